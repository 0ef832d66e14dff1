#include "lora/lora_set.h"

#include <cstdio>

#include "core/error.h"
#include "core/log.h"
#include "io/packed_cache.h"
#include "lora/lora_delta.h"

namespace sdxl::lora {
namespace {

struct Change {
  const ModuleTensors* module;
  double multiplier;
};

// One component's changes, by tensor name ("<module>.weight", "<module>.bias"), in the order
// the LoRAs were given.
class ComponentPatch final : public io::TensorPatch {
 public:
  std::map<std::string, std::vector<Change>> changes;
  std::string files;  // the LoRA files and their weights (identity())

  bool touches(const std::string& name) const override { return changes.count(name) > 0; }
  std::string identity() const override { return files; }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [name, list] : changes) out.push_back(name);
    return out;
  }
  Tensor apply(const std::string& name, const Tensor& stored) const override {
    Tensor merged = stored.to(DType::F32);
    apply_in_place(name, merged);
    return merged;
  }
  // Every kind but DoRA (which rescales the merged weight by its norms) adds its update.
  bool additive(const std::string& name) const override {
    for (const Change& c : changes.at(name))
      if (c.module->has("dora_scale")) return false;
    return true;
  }
  void apply_in_place(const std::string& name, Tensor& values) const override {
    SDXL_CHECK(values.dtype() == DType::F32, InvalidArgument, "[lora] ", name, ": in-place merge into a non-f32 tensor");
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    for (const Change& c : changes.at(name)) {
      if (bias) merge_bias(values, *c.module, c.multiplier);
      else merge_weight(values, *c.module, c.multiplier);
    }
  }
};

// SD 1.x / 2.x LoRAs meet SDXL at the cross-attention's key and value projections, whose input
// is the text encoder's width: 768 (SD 1.x), 1024 (SD 2.x) against SDXL's 2048 (refiner 1280).
std::string family_hint(const ModuleTensors& m, const Shape& weight_shape) {
  const bool cross = m.key.find("attn2_to_k") != std::string::npos || m.key.find("attn2.to_k") != std::string::npos ||
                     m.key.find("attn2_to_v") != std::string::npos || m.key.find("attn2.to_v") != std::string::npos;
  if (!cross || !m.has("down") || weight_shape.rank() != 2) return "";
  const int64_t width = m.at("down").numel() / m.at("down").dim(0);
  if (width == 768) return " (its cross-attention reads 768-wide text: a Stable Diffusion 1.x LoRA, not SDXL)";
  if (width == 1024) return " (its cross-attention reads 1024-wide text: a Stable Diffusion 2.x LoRA, not SDXL)";
  return "";
}

}  // namespace

std::shared_ptr<const LoraSet> LoraSet::load(const std::vector<LoraSpec>& specs, const ModelLayers& layers) {
  auto set = std::make_shared<LoraSet>();
  set->specs_ = specs;
  set->files_.reserve(specs.size());
  const LayerIndex index(layers);
  std::map<std::string, std::shared_ptr<ComponentPatch>> patches;
  for (const LoraSpec& spec : specs) {
    set->files_.push_back(read_lora_file(spec.path));
    const LoraFile& file = set->files_.back();
    // Names first: a LoRA for another model shows as modules that match nothing, which says
    // more than the first shape that does not fit.
    std::vector<std::pair<const ModuleTensors*, LayerName>> matched;
    std::vector<std::string> unmatched;
    for (const ModuleTensors& m : file.modules) {
      if (auto layer = index.find(m.key)) matched.emplace_back(&m, *layer);
      else unmatched.push_back(m.key);
    }
    if (!unmatched.empty()) {
      std::string list;
      for (size_t i = 0; i < unmatched.size() && i < 10; ++i) list += (i ? ", " : "") + unmatched[i];
      if (unmatched.size() > 10) list += ", ... (" + std::to_string(unmatched.size()) + " in all)";
      fail(ErrorCode::Format, "[lora] ", spec.path.string(), ": ", unmatched.size(), " of its ", file.modules.size(),
           " modules match no layer of this model (is it for another model?): ", list);
    }
    for (const auto& [module, layer] : matched) {
      const ModuleTensors& m = *module;
      const auto& tensors = layers.components.at(layer.component);
      const Shape& weight_shape = tensors.at(layer.module + ".weight");
      const auto bias = tensors.find(layer.module + ".bias");
      try {
        check_module(m, weight_shape, bias == tensors.end() ? 0 : bias->second.numel());
      } catch (const Error& e) {
        fail(ErrorCode::Format, e.what(), " (", spec.path.string(), ", layer ", layer.component, ".", layer.module, ")",
             family_hint(m, weight_shape));
      }
      auto& patch = patches[layer.component];
      if (!patch) patch = std::make_shared<ComponentPatch>();
      patch->changes[layer.module + ".weight"].push_back({&m, spec.weight});
      if (m.has("diff_b")) {
        SDXL_CHECK(bias != tensors.end(), Format, "[lora] ", m.key, ": has diff_b but layer ", layer.module,
                   " has no bias (", spec.path.string(), ")");
        patch->changes[layer.module + ".bias"].push_back({&m, spec.weight});
      }
      ++set->modules_;
    }
    log_info("[lora] ", spec.path.filename().string(), " x", spec.weight, ": ", file.modules.size(), " layers");
  }
  std::string files;
  for (const LoraSpec& spec : specs) {
    char weight[32];
    std::snprintf(weight, sizeof(weight), "%.17g", spec.weight);
    files += io::file_key_line(spec.path) + "lora weight " + weight + "\n";
  }
  for (auto& [component, patch] : patches) {
    patch->files = files;
    set->patches_[component] = patch;
  }
  return set;
}

std::shared_ptr<const io::TensorPatch> LoraSet::patch(const std::string& component) const {
  auto it = patches_.find(component);
  return it == patches_.end() ? nullptr : it->second;
}

}  // namespace sdxl::lora

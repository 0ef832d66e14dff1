#include "lora/lora_file.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "io/tensor_file.h"

namespace sdxl::lora {
namespace {

// Stored suffix -> canonical part, longest suffixes first so that ".lora_down.weight" is not
// taken for a plain ".weight".
const std::vector<std::pair<std::string, std::string>>& suffixes() {
  static const std::vector<std::pair<std::string, std::string>> table = [] {
    std::vector<std::pair<std::string, std::string>> t = {
        {".lora_down.weight", "down"}, {".lora_up.weight", "up"}, {".lora_mid.weight", "mid"},
        {".lora_A.weight", "down"},    {".lora_B.weight", "up"},  {".lora.down.weight", "down"},
        {".lora.up.weight", "up"},     {".lora_linear_layer.down.weight", "down"},
        {".lora_linear_layer.up.weight", "up"},
        {".alpha", "alpha"},           {".dora_scale", "dora_scale"}, {".diff", "diff"}, {".diff_b", "diff_b"}};
    for (const char* part : {"hada_w1_a", "hada_w1_b", "hada_w2_a", "hada_w2_b", "hada_t1", "hada_t2", "lokr_w1",
                             "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a", "lokr_w2_b", "lokr_t2"})
      t.emplace_back(std::string(".") + part, part);
    std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    return t;
  }();
  return table;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() > tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The old diffusers attention-processor names keep the projection inside the suffix:
// "x.processor.to_q_lora.down.weight" is module "x.to_q", part "down".
bool split_processor_key(const std::string& name, std::string& module, std::string& part) {
  static const std::pair<const char*, const char*> projections[] = {
      {"to_q_lora", "to_q"}, {"to_k_lora", "to_k"}, {"to_v_lora", "to_v"}, {"to_out_lora", "to_out.0"}};
  const size_t at = name.find(".processor.");
  if (at == std::string::npos) return false;
  const std::string tail = name.substr(at + 11);
  for (const auto& [from, to] : projections)
    for (const auto& [stored, canonical] : {std::pair<std::string, std::string>{".down.weight", "down"}, {".up.weight", "up"}})
      if (tail == std::string(from) + stored) {
        module = name.substr(0, at) + "." + to;
        part = canonical;
        return true;
      }
  return false;
}

}  // namespace

const Tensor& ModuleTensors::at(const std::string& part) const {
  auto it = parts.find(part);
  if (it == parts.end()) fail(ErrorCode::Format, "[lora] ", key, ": no '", part, "' tensor");
  return it->second;
}

LoraFile group_lora_tensors(const io::SafetensorsFile& file) {
  LoraFile out;
  out.path = file.path();
  std::map<std::string, ModuleTensors> modules;
  std::vector<std::string> unknown;
  for (const auto& record : file.records()) {
    std::string module, part;
    if (!split_processor_key(record.name, module, part))
      for (const auto& [stored, canonical] : suffixes())
        if (ends_with(record.name, stored)) {
          module = record.name.substr(0, record.name.size() - stored.size());
          part = canonical;
          break;
        }
    if (part.empty()) {
      unknown.push_back(record.name);
      continue;
    }
    SDXL_CHECK(dtype_is_float(record.dtype), Format, "[lora] ", file.path().string(), ": '", record.name, "' is ",
               dtype_name(record.dtype), ", expected a float type");
    ModuleTensors& m = modules[module];
    m.key = module;
    SDXL_CHECK(m.parts.emplace(part, file.tensor(record)).second, Format, "[lora] ", file.path().string(), ": module '",
               module, "' has two '", part, "' tensors");
  }
  if (!unknown.empty()) {
    std::string list;
    for (size_t i = 0; i < unknown.size() && i < 8; ++i) list += (i ? ", " : "") + unknown[i];
    if (unknown.size() > 8) list += ", ... (" + std::to_string(unknown.size()) + " in all)";
    fail(ErrorCode::Format, "[lora] ", file.path().string(), ": tensors of no LoRA format sdxl reads (LoRA, LoCon, ",
         "LoHa, LoKr, full diff, DoRA): ", list);
  }
  SDXL_CHECK(!modules.empty(), Format, "[lora] ", file.path().string(), ": holds no LoRA tensors");
  for (auto& [key, m] : modules) out.modules.push_back(std::move(m));
  return out;
}

LoraFile read_lora_file(const std::filesystem::path& path) {
  return group_lora_tensors(*io::open_tensor_file(path));
}

}  // namespace sdxl::lora

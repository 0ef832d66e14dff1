#include "lora/lora_names.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace sdxl::lora {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string underscored(std::string s) {
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

}  // namespace

LayerIndex::LayerIndex(const ModelLayers& layers) : layers_(layers) {
  static const std::pair<const char*, const char*> prefixes[] = {
      {"unet", "lora_unet_"}, {"text_encoder", "lora_te1_"}, {"text_encoder_2", "lora_te2_"}};
  for (const auto& [component, prefix] : prefixes) {
    auto it = layers.components.find(component);
    if (it == layers.components.end()) continue;
    for (const auto& [name, shape] : it->second) {
      const size_t dot = name.rfind(".weight");
      if (dot == std::string::npos || dot + 7 != name.size()) continue;
      const std::string module = name.substr(0, dot);
      const LayerName layer{component, module};
      kohya_.emplace(prefix + underscored(module), layer);
      if (std::string(component) == "unet") {
        const std::string original = io::unet_original_key(module, layers.unet_layout);
        if (!original.empty()) kohya_.emplace(prefix + underscored(original), layer);
      }
    }
  }
}

std::optional<LayerName> LayerIndex::find(const std::string& key) const {
  if (starts_with(key, "lora_te_") || starts_with(key, "lora_te_text_model"))
    fail(ErrorCode::Format, "[lora] '", key, "' is a key of a Stable Diffusion 1.x / 2.x LoRA (one text encoder, ",
         "lora_te_); SDXL LoRAs name lora_te1_ and lora_te2_");
  if (starts_with(key, "lora_")) {
    auto it = kohya_.find(key);
    if (it == kohya_.end()) return std::nullopt;
    return it->second;
  }
  std::string path = starts_with(key, "base_model.model.") ? key.substr(17) : key;
  std::string component = "unet";
  for (const char* prefix : {"unet.", "text_encoder.", "text_encoder_2."})
    if (starts_with(path, prefix)) {
      component = std::string(prefix, std::strlen(prefix) - 1);
      path = path.substr(component.size() + 1);
      break;
    }
  auto c = layers_.components.find(component);
  if (c == layers_.components.end() || !c->second.count(path + ".weight")) return std::nullopt;
  return LayerName{component, path};
}

}  // namespace sdxl::lora

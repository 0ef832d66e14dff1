// Which layer of the model a LoRA module's key names. kohya / AUTOMATIC1111 keys flatten a module
// path with underscores (`lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q` in the
// original SGM numbering, or `lora_unet_down_blocks_1_attentions_0_...` in diffusers'),
// so they are matched against every layer of the model written both ways; PEFT / diffusers keys
// carry the dotted diffusers path behind a component prefix.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/shape.h"
#include "io/original_layout.h"

namespace sdxl::lora {

// The layers a LoRA may adapt: each model component's tensors (diffusers names) and shapes.
struct ModelLayers {
  std::map<std::string, std::map<std::string, Shape>> components;  // "unet", "text_encoder", "text_encoder_2"
  io::UNetLayout unet_layout;
};

struct LayerName {
  std::string component;  // "unet", "text_encoder", "text_encoder_2"
  std::string module;     // diffusers path, without ".weight"
};

class LayerIndex {
 public:
  explicit LayerIndex(const ModelLayers& layers);
  // The layer `key` names; nothing when it names none of this model's layers. Throws Format
  // for keys of another model family (SD 1.x's single text encoder, `lora_te_`).
  std::optional<LayerName> find(const std::string& key) const;

 private:
  const ModelLayers& layers_;
  std::map<std::string, LayerName> kohya_;  // "lora_unet_..." / "lora_te1_..." -> layer
};

}  // namespace sdxl::lora

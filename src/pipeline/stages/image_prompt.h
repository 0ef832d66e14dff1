// diffusers v0.25.1's IP-Adapter part of StableDiffusionXLPipeline: the image through the CLIP
// image encoder (plain: image_embeds, negative zeros; plus: the penultimate hidden states, negative
// those of an all-zero pixel_values), projected to tokens once per request, and each
// cross-attention layer's image keys and values made from them for the UNet's every step.
#pragma once

#include <memory>
#include <vector>

#include "io/model_configs.h"
#include "models/adapters/ip_adapter.h"
#include "models/clip/clip_vision_model.h"
#include "pipeline/stages/control_steering.h"

namespace sdxl::pipeline {

struct IpAdapterUnit {
  std::shared_ptr<const models::IpAdapter> adapter;
  std::shared_ptr<const models::ClipVisionModel> encoder;
  Tensor pixel_values;  // [1, 3, S, S]: CLIPImageProcessor's output for the image
  double scale = 1.0;   // set_ip_adapter_scale
  // The steps it acts on (the AUTOMATIC1111 extension's window, start <= i/n <= end); diffusers: all.
  double start = 0.0, end = 1.0;
};

// What the adapter makes of the image, before batching (for inspection and the golden tests).
struct ImagePromptEmbeds {
  Tensor image_embeds, negative_image_embeds;  // [1, E] (plain) or [1, L, E] (plus)
  Tensor tokens;                               // [2, T, cross]: negative, positive
};
ImagePromptEmbeds image_prompt_embeds(const IpAdapterUnit& unit);

class ImagePrompt {
 public:
  // `images`: the latents' batch; under CFG the UNet's batch is [negatives | positives].
  ImagePrompt(const IpAdapterUnit& unit, const io::UNetConfig& unet, bool cfg, int64_t images, size_t steps);
  // The keys and values for `step` (forward order), or null when the unit does not act then.
  const std::vector<Tensor>* operator()(size_t step) const;

 private:
  std::vector<Tensor> kv_;  // owned, in the UNet's forward order
  std::vector<bool> active_;
};

}  // namespace sdxl::pipeline

// transformers' CLIPVisionModelWithProjection (the image encoder of IP-Adapters):
//   x = patch_embedding(pixels) (conv, kernel = stride = patch, no bias), flattened row-major
//   x = [class_embedding | x] + position_embedding;  x = pre_layrnorm(x)
//   encoder layers as the text encoder's (pre-LN), without a causal mask
//   image_embeds = visual_projection(post_layernorm(x[:, 0])) (no bias)
#pragma once

#include <vector>

#include "io/clip_vision_config.h"
#include "models/clip/clip_encoder_layer.h"
#include "models/common/conv_layers.h"

namespace sdxl::models {

struct ClipVisionOutput {
  // [B, T, H] each: [0] the encoder's input (after pre_layrnorm), [i] the output of layer i.
  std::vector<Tensor> hidden_states;
  Tensor image_embeds;  // [B, projection_dim]
};

class ClipVisionModel {
 public:
  static ClipVisionModel load(const io::ClipVisionConfig& config, WeightBinder& weights);

  // pixel_values [B, 3, S, S] NCHW (CLIPImageProcessor's output, S = image_size). Outputs in `arena`.
  ClipVisionOutput forward(Arena& arena, const Tensor& pixel_values) const;

  const io::ClipVisionConfig& config() const { return config_; }
  static std::vector<std::string> ignored_tensors() { return {"position_ids"}; }

 private:
  io::ClipVisionConfig config_;
  Conv2d patch_embedding_;
  Tensor class_embedding_;     // [H] f32
  Tensor position_embedding_;  // [T, H] f32
  LayerNorm pre_layrnorm_, post_layernorm_;
  std::vector<ClipEncoderLayer> layers_;
  Linear visual_projection_;
  ops::Activation activation_ = ops::Activation::QuickGelu;
};

}  // namespace sdxl::models

// transformers' CLIPVisionConfig (the config.json of a CLIPVisionModelWithProjection folder, as
// IP-Adapters' image_encoder folders ship it).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sdxl::io {

struct ClipVisionConfig {
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t projection_dim = 512;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 12;
  int64_t num_channels = 3;
  int64_t image_size = 224;
  int64_t patch_size = 32;
  std::string hidden_act = "quick_gelu";  // quick_gelu, gelu, gelu_new, gelu_pytorch_tanh
  double layer_norm_eps = 1e-5;

  int64_t patches_per_side() const { return image_size / patch_size; }
  int64_t tokens() const { return patches_per_side() * patches_per_side() + 1; }  // + the class token
};

ClipVisionConfig parse_clip_vision_config(const nlohmann::json& config, const std::string& origin);

}  // namespace sdxl::io

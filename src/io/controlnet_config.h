// diffusers' ControlNetModel config: the UNet's encoder half (the same keys and defaults as
// UNet2DConditionModel's, without up blocks) plus the conditioning image's embedding.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/model_configs.h"

namespace sdxl::io {

struct ControlNetConfig {
  UNetConfig unet;  // its down/mid half; up_block_types is filled to mirror the down blocks, unused
  int64_t conditioning_channels = 3;
  std::vector<int64_t> conditioning_embedding_out_channels{16, 32, 96, 256};
  bool bgr = false;  // controlnet_conditioning_channel_order "bgr": the image's channels reversed
  bool global_pool_conditions = false;
  // How much smaller than the control image the latents are: 2 per stride-2 block of the
  // conditioning embedding (8 with four channel entries).
  int64_t image_scale() const { return int64_t{1} << (conditioning_embedding_out_channels.size() - 1); }
};

ControlNetConfig parse_controlnet_config(const nlohmann::json& config, const std::string& origin);

}  // namespace sdxl::io

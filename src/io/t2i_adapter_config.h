// diffusers' T2IAdapter config (config.json of a T2I-Adapter folder). Only SDXL's
// "full_adapter_xl" is run; SD 1.5's adapter types are refused by name.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sdxl::io {

struct T2IAdapterConfig {
  int64_t in_channels = 3;
  std::vector<int64_t> channels{320, 640, 1280, 1280};
  int64_t num_res_blocks = 2;
  int64_t downscale_factor = 16;
  // How much smaller than the image the first feature is: the unshuffle's factor (the third
  // block halves it once more).
  int64_t feature_scale() const { return downscale_factor; }
};

T2IAdapterConfig parse_t2i_adapter_config(const nlohmann::json& config, const std::string& origin);

}  // namespace sdxl::io

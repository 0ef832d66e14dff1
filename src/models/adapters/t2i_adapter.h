// diffusers' T2IAdapter with adapter_type "full_adapter_xl" (v0.25.1 models/adapter.py): the
// control image, pixel-unshuffled, through conv_in and four AdapterBlocks once per image; each
// block's output is a feature the UNet adds inside its down path (down_intrablock_additional_residuals).
//   x = conv_in(pixel_unshuffle(image, downscale_factor))
//   body[0] ch0 -> ch0; body[1] ch0 -> ch1; body[2] avg-pool, ch1 -> ch2; body[3] ch3 -> ch3
//   AdapterBlock: [AvgPool2d(2, ceil)] -> [1x1 in_conv] -> resnets (x + block2(ReLU(block1(x))))
#pragma once

#include <vector>

#include "io/t2i_adapter_config.h"
#include "models/common/conv_layers.h"

namespace sdxl::models {

class T2IAdapter {
 public:
  static T2IAdapter load(const io::T2IAdapterConfig& config, WeightBinder& weights);

  // image [B, in_channels, H, W] NCHW in [0, 1], H and W multiples of downscale_factor.
  // Returns the four features channels-last [B, h, w, channels[i]] in `arena`, each x `scale`.
  std::vector<Tensor> forward(Arena& arena, const Tensor& image, float scale = 1.0f) const;

  const io::T2IAdapterConfig& config() const { return config_; }

 private:
  struct ResnetBlock {
    Conv2d block1, block2;
  };
  struct AdapterBlock {
    bool downsample = false;
    bool has_in_conv = false;
    Conv2d in_conv;
    std::vector<ResnetBlock> resnets;
  };
  io::T2IAdapterConfig config_;
  Conv2d conv_in_;
  std::vector<AdapterBlock> body_;
};

}  // namespace sdxl::models

// diffusers' AutoencoderTiny (TAESD; madebyollin/taesdxl for SDXL): a small convolutional
// encoder and decoder of plain ReLU blocks, deterministic (no distribution), for fast decodes and
// previews.
//   Block(x)  = ReLU(conv(ReLU(conv(ReLU(conv(x))))) + skip(x))
//   encode(x) = layers((x + 1) / 2): conv; blocks; per further level: conv stride 2 (no bias),
//               blocks; conv to the latent channels
//   decode(z) = 2 * layers(3 tanh(z / 3)) - 1: conv; ReLU; per level: blocks, then (but the last)
//               nearest x2 and conv (no bias); the last level's conv (with bias) to RGB
#pragma once

#include <vector>

#include "io/model_configs.h"
#include "models/common/conv_layers.h"

namespace sdxl::models {

class AutoencoderTiny {
 public:
  static AutoencoderTiny load(const io::TinyAutoencoderConfig& config, WeightBinder& weights);

  // image [B, 3, H, W] in [-1, 1] -> latents [B, C, H / scale, W / scale] (NCHW), in `arena`.
  Tensor encode(Arena& arena, const Tensor& image) const;
  // latents [B, C, h, w] -> image [B, 3, h * scale, w * scale] in about [-1, 1], not clamped.
  Tensor decode(Arena& arena, const Tensor& latents) const;

  const io::TinyAutoencoderConfig& config() const { return config_; }
  int64_t scale() const { return config_.scale(); }

 private:
  struct Block {
    Conv2d conv0, conv1, conv2;
    Conv2d skip;  // 1x1 without bias, only when the channel count changes
    bool has_skip = false;
    Tensor operator()(Arena& arena, const Tensor& x) const;
  };
  // A layer of the Sequential: a conv, a block, or (decoder) ReLU / nearest x2.
  struct Layer {
    enum class Kind { Conv, Block, Relu, Upsample } kind = Kind::Conv;
    Conv2d conv;
    Block block;
  };
  static Block bind_block(WeightBinder& w, const std::string& prefix, int64_t in, int64_t out);
  // Runs `layers` on x [B, H, W, C] and writes the result, NCHW, into `out` (scaled by `mul`, shifted by `add`).
  void run(Arena& arena, const std::vector<Layer>& layers, Tensor x, Tensor& out, float mul, float add) const;

  io::TinyAutoencoderConfig config_;
  std::vector<Layer> encoder_, decoder_;
};

}  // namespace sdxl::models

// RRDBNet, the ESRGAN / Real-ESRGAN generator (BasicSR basicsr/archs/rrdbnet_arch.py): features at
// the input's size through residual-in-residual dense blocks, then two nearest 2x upsamplings.
//   feat = conv_first(pixel_unshuffle(x, 4 / scale))       (scale 4: no unshuffle)
//   feat = feat + conv_body(body(feat))                     body = num_block RRDBs
//   feat = lrelu(conv_up1(up2x(feat))); feat = lrelu(conv_up2(up2x(feat)))
//   out  = conv_last(lrelu(conv_hr(feat)))                  lrelu = LeakyReLU(0.2)
//   RRDB(x) = rdb3(rdb2(rdb1(x))) * 0.2 + x
//   RDB(x): x_k = lrelu(conv_k(cat(x, x_1 .. x_{k-1}))) for k = 1..4, x_5 = conv5(cat(x, x_1 .. x_4)),
//           out = x_5 * 0.2 + x
#pragma once

#include <array>
#include <vector>

#include "models/common/conv_layers.h"

namespace sdxl::models {

struct RrdbNetConfig {
  int64_t scale = 4;  // 4, 2 or 1
  int64_t channels = 3;
  int64_t num_feat = 64, num_block = 23, num_grow_ch = 32;
};

class RrdbNet {
 public:
  // Weights in BasicSR's names (conv_first, body.N.rdbK.convJ, conv_body, conv_up1/2, conv_hr, conv_last).
  static RrdbNet load(const RrdbNetConfig& config, WeightBinder& weights);

  // image [1, H, W, channels] channels-last, values as the model was trained on (0..1); H and W
  // divisible by 4 / scale. Returns [1, scale H, scale W, channels] in `arena`.
  Tensor forward(Arena& arena, const Tensor& image) const;

  const RrdbNetConfig& config() const { return config_; }
  // Bytes the forward pass holds at its peak for an H x W input (arena and oneDNN scratch
  // estimated), to choose between the whole image and tiles.
  uint64_t peak_bytes(int64_t height, int64_t width) const;

 private:
  using DenseBlock = std::array<Conv2d, 5>;
  using ResidualBlock = std::array<DenseBlock, 3>;
  Tensor dense_block(Arena& arena, const Tensor& x, const DenseBlock& block) const;
  Tensor residual_block(Arena& arena, const Tensor& x, const ResidualBlock& block) const;

  RrdbNetConfig config_;
  Conv2d conv_first_, conv_body_, conv_up1_, conv_up2_, conv_hr_, conv_last_;
  std::vector<ResidualBlock> body_;
};

}  // namespace sdxl::models

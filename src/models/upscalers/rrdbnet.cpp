#include "models/upscalers/rrdbnet.h"

#include <string>

#include "core/error.h"

namespace sdxl::models {

namespace {
constexpr float kResidualScale = 0.2f;
}

RrdbNet RrdbNet::load(const RrdbNetConfig& c, WeightBinder& w) {
  SDXL_CHECK(c.scale == 4 || c.scale == 2 || c.scale == 1, Unsupported, "[upscaler] scale ", c.scale,
             " (RRDBNet is x4, x2 or x1)");
  RrdbNet net;
  net.config_ = c;
  const int64_t unshuffle = 4 / c.scale, nf = c.num_feat, gc = c.num_grow_ch;
  net.conv_first_ = Conv2d::bind(w, "conv_first", c.channels * unshuffle * unshuffle, nf, 3);
  for (int64_t i = 0; i < c.num_block; ++i) {
    ResidualBlock block;
    for (int r = 0; r < 3; ++r)
      for (int k = 0; k < 5; ++k) {
        const std::string name = "body." + std::to_string(i) + ".rdb" + std::to_string(r + 1) + ".conv" + std::to_string(k + 1);
        block[r][k] = Conv2d::bind(w, name, nf + k * gc, k < 4 ? gc : nf, 3);
      }
    net.body_.push_back(std::move(block));
  }
  net.conv_body_ = Conv2d::bind(w, "conv_body", nf, nf, 3);
  net.conv_up1_ = Conv2d::bind(w, "conv_up1", nf, nf, 3);
  net.conv_up2_ = Conv2d::bind(w, "conv_up2", nf, nf, 3);
  net.conv_hr_ = Conv2d::bind(w, "conv_hr", nf, nf, 3);
  net.conv_last_ = Conv2d::bind(w, "conv_last", nf, c.channels, 3);
  return net;
}

Tensor RrdbNet::dense_block(Arena& arena, const Tensor& x, const DenseBlock& block) const {
  Tensor out = Tensor::in_arena(arena, x.shape(), DType::F32);
  ArenaScope temporaries(arena);
  Tensor features = x;  // cat(x, x_1, ..., x_k) along channels
  for (int k = 0; k < 4; ++k) {
    Tensor grown = block[k](arena, features);
    ops::activate_inplace(grown, ops::Activation::LeakyRelu);
    features = ops::concat_channels(arena, features, grown);
  }
  ops::scale_shift(block[4](arena, features), kResidualScale, 0.0f, out);
  ops::add_inplace(out, x);
  return out;
}

Tensor RrdbNet::residual_block(Arena& arena, const Tensor& x, const ResidualBlock& block) const {
  Tensor out = Tensor::in_arena(arena, x.shape(), DType::F32);
  ArenaScope temporaries(arena);
  Tensor h = x;
  for (const DenseBlock& dense : block) h = dense_block(arena, h, dense);
  ops::scale_shift(h, kResidualScale, 0.0f, out);
  ops::add_inplace(out, x);
  return out;
}

Tensor RrdbNet::forward(Arena& arena, const Tensor& image) const {
  const auto& c = config_;
  const int64_t unshuffle = 4 / c.scale;
  SDXL_CHECK(image.rank() == 4 && image.dim(0) == 1 && image.dim(3) == c.channels && image.dtype() == DType::F32,
             InvalidArgument, "[upscaler] the image must be f32 [1, H, W, ", c.channels, "], got ", image.shape().to_string());
  SDXL_CHECK(image.dim(1) % unshuffle == 0 && image.dim(2) % unshuffle == 0, InvalidArgument, "[upscaler] an x", c.scale,
             " RRDBNet takes sides divisible by ", unshuffle, ", not ", image.dim(2), "x", image.dim(1));
  Tensor out = Tensor::in_arena(arena, Shape{1, image.dim(1) * c.scale, image.dim(2) * c.scale, c.channels}, DType::F32);
  ArenaScope temporaries(arena);  // all but the output
  Tensor feat = conv_first_(arena, unshuffle == 1 ? image : ops::pixel_unshuffle(arena, image, unshuffle));
  {
    Tensor trunk = ops::copy(arena, feat);
    for (const ResidualBlock& block : body_) {
      ArenaScope block_temporaries(arena);
      ops::copy_into(residual_block(arena, trunk, block), trunk);
    }
    conv_body_.accumulate(trunk, feat);
  }
  Tensor h = conv_up1_(arena, ops::upsample_nearest2x(arena, feat));
  ops::activate_inplace(h, ops::Activation::LeakyRelu);
  h = conv_up2_(arena, ops::upsample_nearest2x(arena, h));
  ops::activate_inplace(h, ops::Activation::LeakyRelu);
  h = conv_hr_(arena, h);
  ops::activate_inplace(h, ops::Activation::LeakyRelu);
  ops::copy_into(conv_last_(arena, h), out);
  return out;
}

uint64_t RrdbNet::peak_bytes(int64_t height, int64_t width) const {
  const auto& c = config_;
  const uint64_t low = static_cast<uint64_t>(height) * static_cast<uint64_t>(width) / static_cast<uint64_t>(c.scale == 4 ? 1 : (4 / c.scale) * (4 / c.scale));
  const uint64_t high = static_cast<uint64_t>(height) * static_cast<uint64_t>(width) * static_cast<uint64_t>(c.scale * c.scale);
  const uint64_t nf = static_cast<uint64_t>(c.num_feat), gc = static_cast<uint64_t>(c.num_grow_ch);
  const uint64_t out = high * static_cast<uint64_t>(c.channels) * 4;
  // Body: feat and trunk, the RRDB's output and its three RDBs', and inside the last RDB its four
  // grown outputs and the concatenations (nf + gc .. nf + 4 gc wide) and conv5's output. Then
  // feat and trunk stay while the upsampling holds two tensors at twice the side and three (plus
  // the last convolution's output) at four times.
  const uint64_t rdb = 4 * gc + (4 * nf + 10 * gc) + nf;
  const uint64_t body = low * (2 * nf + nf + 3 * nf + rdb + nf) * 4;
  const uint64_t tail = 2 * low * nf * 4 + 2 * (high / 4) * nf * 4 + high * 3 * nf * 4 + out;
  return out + (body > tail ? body : tail);
}

}  // namespace sdxl::models

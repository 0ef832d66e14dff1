#include "models/taesd/autoencoder_tiny.h"

#include <cmath>

#include "core/error.h"
#include "models/common/arena_chain.h"

namespace sdxl::models {

AutoencoderTiny::Block AutoencoderTiny::bind_block(WeightBinder& w, const std::string& prefix, int64_t in, int64_t out) {
  Block b;
  b.conv0 = Conv2d::bind(w, prefix + ".conv.0", in, out, 3);
  b.conv1 = Conv2d::bind(w, prefix + ".conv.2", out, out, 3);
  b.conv2 = Conv2d::bind(w, prefix + ".conv.4", out, out, 3);
  b.has_skip = in != out;
  if (b.has_skip) b.skip = Conv2d::bind(w, prefix + ".skip", Conv2dGeometry::symmetric(out, in, 1, 1, 0), /*bias=*/false);
  return b;
}

AutoencoderTiny AutoencoderTiny::load(const io::TinyAutoencoderConfig& c, WeightBinder& w) {
  AutoencoderTiny m;
  m.config_ = c;
  auto conv = [&](const std::string& prefix, int64_t in, int64_t out, int64_t stride, bool bias) {
    Layer layer;
    layer.conv = Conv2d::bind(w, prefix, Conv2dGeometry::symmetric(out, in, 3, stride, 1), bias);
    return layer;
  };
  auto block = [&](const std::string& prefix, int64_t channels) {
    Layer layer;
    layer.kind = Layer::Kind::Block;
    layer.block = bind_block(w, prefix, channels, channels);
    return layer;
  };
  auto name = [](const char* part, size_t i) { return std::string(part) + ".layers." + std::to_string(i); };

  // Encoder: keys encoder.layers.0 .. in Sequential order.
  const auto& ec = c.encoder_block_out_channels;
  for (size_t level = 0; level < ec.size(); ++level) {
    const bool first = level == 0;
    m.encoder_.push_back(first ? conv(name("encoder", m.encoder_.size()), c.in_channels, ec[0], 1, true)
                               : conv(name("encoder", m.encoder_.size()), ec[level - 1], ec[level], 2, false));
    for (int64_t b = 0; b < c.num_encoder_blocks[level]; ++b)
      m.encoder_.push_back(block(name("encoder", m.encoder_.size()), ec[level]));
  }
  m.encoder_.push_back(conv(name("encoder", m.encoder_.size()), ec.back(), c.latent_channels, 1, true));

  // Decoder: conv, ReLU, then per level blocks, (upsample, conv without bias) or the final conv.
  const auto& dc = c.decoder_block_out_channels;
  m.decoder_.push_back(conv(name("decoder", 0), c.latent_channels, dc[0], 1, true));
  Layer relu;
  relu.kind = Layer::Kind::Relu;
  m.decoder_.push_back(std::move(relu));
  for (size_t level = 0; level < dc.size(); ++level) {
    const bool last = level + 1 == dc.size();
    for (int64_t b = 0; b < c.num_decoder_blocks[level]; ++b)
      m.decoder_.push_back(block(name("decoder", m.decoder_.size()), dc[level]));
    if (!last) {
      Layer up;
      up.kind = Layer::Kind::Upsample;
      m.decoder_.push_back(std::move(up));
      // The next level's channels come from this conv (taesdxl keeps one width throughout).
      m.decoder_.push_back(conv(name("decoder", m.decoder_.size()), dc[level], dc[level + 1], 1, false));
    } else {
      m.decoder_.push_back(conv(name("decoder", m.decoder_.size()), dc[level], c.out_channels, 1, true));
    }
  }
  return m;
}

Tensor AutoencoderTiny::Block::operator()(Arena& arena, const Tensor& x) const {
  Tensor h = conv0(arena, x);
  ops::activate_inplace(h, ops::Activation::Relu);
  h = conv1(arena, h);
  ops::activate_inplace(h, ops::Activation::Relu);
  Tensor y = has_skip ? skip(arena, x) : ops::copy(arena, x);
  conv2.accumulate(h, y);  // conv(x) + skip(x)
  ops::activate_inplace(y, ops::Activation::Relu);
  return y;
}

void AutoencoderTiny::run(Arena& arena, const std::vector<Layer>& layers, Tensor x, Tensor& out, float mul,
                          float add) const {
  ArenaChain chain(arena);
  for (const Layer& layer : layers) {
    switch (layer.kind) {
      case Layer::Kind::Conv: x = chain(x, layer.conv); break;
      case Layer::Kind::Block: x = chain(x, [&](Arena& a, const Tensor& in) { return layer.block(a, in); }); break;
      case Layer::Kind::Relu: chain.in_place(x, [](Arena&, Tensor& t) { ops::activate_inplace(t, ops::Activation::Relu); }); break;
      case Layer::Kind::Upsample: x = chain(x, ops::upsample_nearest2x); break;
    }
  }
  const Tensor y = chain(x, ops::nhwc_to_nchw);  // in the chain's arenas: copied out before they go
  SDXL_CHECK(y.shape() == out.shape(), Internal, "[taesd] produced ", y.shape().to_string(), ", expected ",
             out.shape().to_string());
  ops::scale_shift(y, mul, add, out);
}

Tensor AutoencoderTiny::encode(Arena& arena, const Tensor& image) const {
  SDXL_CHECK(image.rank() == 4 && image.dim(1) == config_.in_channels && image.dtype() == DType::F32, InvalidArgument,
             "[taesd] image must be f32 [B, ", config_.in_channels, ", H, W], got ", image.shape().to_string());
  SDXL_CHECK(image.dim(2) % scale() == 0 && image.dim(3) % scale() == 0, InvalidArgument, "[taesd] image size ",
             image.dim(3), "x", image.dim(2), " is not a multiple of ", scale());
  const Shape out_shape{image.dim(0), config_.latent_channels, image.dim(2) / scale(), image.dim(3) / scale()};
  Tensor out = Tensor::in_arena(arena, out_shape, DType::F32);
  ArenaScope temporaries(arena);
  Tensor x = ops::nchw_to_nhwc(arena, image);
  ops::scale_shift(x, 0.5f, 0.5f, x);  // [-1, 1] -> [0, 1]
  run(arena, encoder_, x, out, 1.0f, 0.0f);
  return out;
}

Tensor AutoencoderTiny::decode(Arena& arena, const Tensor& latents) const {
  SDXL_CHECK(latents.rank() == 4 && latents.dim(1) == config_.latent_channels && latents.dtype() == DType::F32,
             InvalidArgument, "[taesd] latents must be f32 [B, ", config_.latent_channels, ", h, w], got ",
             latents.shape().to_string());
  const Shape out_shape{latents.dim(0), config_.out_channels, latents.dim(2) * scale(), latents.dim(3) * scale()};
  Tensor out = Tensor::in_arena(arena, out_shape, DType::F32);
  ArenaScope temporaries(arena);
  Tensor x = ops::nchw_to_nhwc(arena, latents);
  ops::soft_clamp_inplace(x, 3.0f);
  run(arena, decoder_, x, out, 2.0f, -1.0f);
  return out;
}

}  // namespace sdxl::models

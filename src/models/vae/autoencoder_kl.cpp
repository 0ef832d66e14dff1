#include "models/vae/autoencoder_kl.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"

namespace sdxl::models {
namespace {
constexpr float kEps = 1e-6f;  // diffusers' VAE blocks use 1e-6 throughout
}

AutoencoderKL::MidBlock AutoencoderKL::bind_mid(WeightBinder& w, const std::string& prefix, int64_t channels,
                                                int64_t groups) {
  MidBlock mid;
  mid.resnet0 = ResnetBlock2D::bind(w, prefix + ".resnets.0", channels, channels, 0, groups, kEps);
  mid.attention_norm = GroupNorm::bind(w, prefix + ".attentions.0.group_norm", channels, groups, kEps);
  // attention_head_dim = channels: a single head.
  mid.attention = Attention::bind(w, prefix + ".attentions.0", channels, 0, 1, channels, /*qkv_bias=*/true);
  mid.resnet1 = ResnetBlock2D::bind(w, prefix + ".resnets.1", channels, channels, 0, groups, kEps);
  return mid;
}

Tensor AutoencoderKL::MidBlock::operator()(Arena& arena, const Tensor& x) const {
  Tensor h = resnet0(arena, x, nullptr);
  {
    const Shape tokens{h.dim(0), h.dim(1) * h.dim(2), h.dim(3)};
    ArenaScope scope(arena);
    Tensor residual = h.reshape(tokens);
    attention.accumulate(arena, attention_norm(arena, h).reshape(tokens), nullptr, residual);
  }
  return resnet1(arena, h, nullptr);
}

AutoencoderKL AutoencoderKL::load(const io::VaeConfig& c, WeightBinder& w) {
  AutoencoderKL m;
  m.config_ = c;
  const int64_t groups = c.norm_num_groups;
  const size_t levels = c.block_out_channels.size();
  const int64_t top = c.block_out_channels.back();

  m.enc_conv_in_ = Conv2d::bind(w, "encoder.conv_in", c.in_channels, c.block_out_channels[0], 3);
  int64_t out_ch = c.block_out_channels[0];
  for (size_t i = 0; i < levels; ++i) {
    const int64_t in_ch = out_ch;
    out_ch = c.block_out_channels[i];
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    Level level;
    for (int64_t j = 0; j < c.layers_per_block; ++j)
      level.resnets.push_back(
          ResnetBlock2D::bind(w, p + ".resnets." + std::to_string(j), j == 0 ? in_ch : out_ch, out_ch, 0, groups, kEps));
    if (i + 1 < levels) {
      // Downsample2D with padding 0 pads (0, 1, 0, 1): bottom and right only.
      Conv2dGeometry g = Conv2dGeometry::symmetric(out_ch, out_ch, 3, 2, 0);
      g.pad_bottom = g.pad_right = 1;
      level.has_resample = true;
      level.resample = Conv2d::bind(w, p + ".downsamplers.0.conv", g);
    }
    m.enc_levels_.push_back(std::move(level));
  }
  m.enc_mid_ = bind_mid(w, "encoder.mid_block", top, groups);
  m.enc_norm_out_ = GroupNorm::bind(w, "encoder.conv_norm_out", top, groups, kEps);
  m.enc_conv_out_ = Conv2d::bind(w, "encoder.conv_out", top, 2 * c.latent_channels, 3);
  m.quant_conv_ = Conv2d::bind(w, "quant_conv", 2 * c.latent_channels, 2 * c.latent_channels, 1);

  m.post_quant_conv_ = Conv2d::bind(w, "post_quant_conv", c.latent_channels, c.latent_channels, 1);
  m.dec_conv_in_ = Conv2d::bind(w, "decoder.conv_in", c.latent_channels, top, 3);
  m.dec_mid_ = bind_mid(w, "decoder.mid_block", top, groups);
  std::vector<int64_t> reversed(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  out_ch = reversed[0];
  for (size_t i = 0; i < levels; ++i) {
    const int64_t prev = out_ch;
    out_ch = reversed[i];
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    Level level;
    for (int64_t j = 0; j < c.layers_per_block + 1; ++j)
      level.resnets.push_back(
          ResnetBlock2D::bind(w, p + ".resnets." + std::to_string(j), j == 0 ? prev : out_ch, out_ch, 0, groups, kEps));
    if (i + 1 < levels) {
      level.has_resample = true;
      level.resample = Conv2d::bind(w, p + ".upsamplers.0.conv", out_ch, out_ch, 3);
    }
    m.dec_levels_.push_back(std::move(level));
  }
  m.dec_norm_out_ = GroupNorm::bind(w, "decoder.conv_norm_out", c.block_out_channels[0], groups, kEps);
  m.dec_conv_out_ = Conv2d::bind(w, "decoder.conv_out", c.block_out_channels[0], c.out_channels, 3);
  return m;
}

void AutoencoderKL::check_latents(const Tensor& latents) const {
  SDXL_CHECK(latents.rank() == 4 && latents.dim(1) == config_.latent_channels && latents.dtype() == DType::F32,
             InvalidArgument, "[vae] latents must be f32 [B, ", config_.latent_channels, ", h, w], got ",
             latents.shape().to_string());
}

Tensor AutoencoderKL::decoder_input(ArenaChain& chain, const Tensor& latents) const {
  Tensor x = chain(latents, ops::nchw_to_nhwc);
  x = chain(x, post_quant_conv_);
  x = chain(x, dec_conv_in_);
  return chain(x, dec_mid_);
}

Tensor AutoencoderKL::decode(Arena& arena, const Tensor& latents, const BetweenBlocks& between_blocks) const {
  check_latents(latents);
  const int64_t s = scale();
  Tensor image = Tensor::in_arena(arena, Shape{latents.dim(0), config_.out_channels, latents.dim(2) * s, latents.dim(3) * s},
                                  DType::F32);
  ArenaScope temporaries(arena);
  ArenaChain chain(arena);
  Tensor x = decoder_input(chain, latents);
  int64_t blocks = 0, done = 0;
  for (const auto& level : dec_levels_) blocks += static_cast<int64_t>(level.resnets.size());
  for (const auto& level : dec_levels_) {
    for (const auto& resnet : level.resnets) {
      if (between_blocks) between_blocks(done++, blocks);
      x = chain(x, [&](Arena& a, const Tensor& in) { return resnet(a, in, nullptr); });
    }
    if (level.has_resample) {
      x = chain(x, ops::upsample_nearest2x);
      x = chain(x, level.resample);
    }
  }
  x = chain(x, [&](Arena& a, const Tensor& in) { return dec_norm_out_(a, in, /*fuse_silu=*/true); });
  x = chain(x, dec_conv_out_);
  Tensor y = chain(x, ops::nhwc_to_nchw);
  ops::copy_into(y, image);
  return image;
}

LatentDistribution AutoencoderKL::encode(Arena& arena, const Tensor& image, const BetweenBlocks& between_blocks) const {
  SDXL_CHECK(image.rank() == 4 && image.dim(1) == config_.in_channels && image.dtype() == DType::F32, InvalidArgument,
             "[vae] image must be f32 [B, ", config_.in_channels, ", H, W], got ", image.shape().to_string());
  const int64_t s = scale();
  SDXL_CHECK(image.dim(2) % s == 0 && image.dim(3) % s == 0, InvalidArgument, "[vae] image size ", image.dim(3), "x",
             image.dim(2), " is not a multiple of ", s);
  const int64_t b = image.dim(0), lc = config_.latent_channels, h = image.dim(2) / s, w = image.dim(3) / s;
  LatentDistribution out;
  out.mean = Tensor::in_arena(arena, Shape{b, lc, h, w}, DType::F32);
  out.std = Tensor::in_arena(arena, Shape{b, lc, h, w}, DType::F32);
  out.logvar = Tensor::in_arena(arena, Shape{b, lc, h, w}, DType::F32);
  ArenaScope temporaries(arena);
  ArenaChain chain(arena);
  Tensor x = chain(image, ops::nchw_to_nhwc);
  x = chain(x, enc_conv_in_);
  int64_t blocks = 0, done = 0;
  for (const auto& level : enc_levels_) blocks += static_cast<int64_t>(level.resnets.size());
  for (const auto& level : enc_levels_) {
    for (const auto& resnet : level.resnets) {
      if (between_blocks) between_blocks(done++, blocks);
      x = chain(x, [&](Arena& a, const Tensor& in) { return resnet(a, in, nullptr); });
    }
    if (level.has_resample) x = chain(x, level.resample);
  }
  x = chain(x, enc_mid_);
  x = chain(x, [&](Arena& a, const Tensor& in) { return enc_norm_out_(a, in, /*fuse_silu=*/true); });
  x = chain(x, enc_conv_out_);
  x = chain(x, quant_conv_);
  Tensor moments = chain(x, ops::nhwc_to_nchw);  // [B, 2C, h, w]: mean channels, then logvar
  ops::diagonal_gaussian(moments, out.mean, out.logvar, out.std);
  return out;
}

}  // namespace sdxl::models

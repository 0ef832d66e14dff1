// diffusers' AutoencoderKL: the decoder (post_quant_conv, conv_in, mid block with attention,
// up blocks, norm, SiLU, conv_out) and the encoder (conv_in, down blocks, mid block, norm,
// SiLU, conv_out, quant_conv) with its diagonal Gaussian posterior.
// NCHW at the boundary (latents, images); channels-last inside.
#pragma once

#include <functional>
#include <vector>

#include "io/model_configs.h"
#include "models/common/arena_chain.h"
#include "models/common/attention_layers.h"
#include "models/common/conv_layers.h"

namespace sdxl::models {

// Called between the blocks of a long encode or decode (seconds apart at 1024x1024) with the
// blocks done and their total, so that a caller can show progress or stop it by throwing.
using BetweenBlocks = std::function<void(int64_t done, int64_t total)>;

struct LatentDistribution {
  Tensor mean, std, logvar;  // [B, latent_channels, h, w] NCHW; logvar clamped to [-30, 20]
};

class AutoencoderKL {
 public:
  static AutoencoderKL load(const io::VaeConfig& config, WeightBinder& weights);

  // latents [B, C, h, w] (already divided by the scaling factor) -> image [B, 3, 8h, 8w] in
  // about [-1, 1], not clamped.
  Tensor decode(Arena& arena, const Tensor& latents, const BetweenBlocks& between_blocks = {}) const;
  // The same image decoded in little memory (--vae-tiling): from the first up block on, a band
  // of rows at a time with only block inputs and outputs whole, every group norm normalising
  // with the statistics of the whole image (diffusers' tiles use their own, which changes the
  // image). Equal to decode() up to float rounding; at 1024x1024 a quarter of its memory for
  // 1.4x its time (some work is done twice: decode_in_bands.cpp says which).
  // band_rows 0: bands of about 32 MiB of the step's widest activation.
  Tensor decode_in_bands(Arena& arena, const Tensor& latents, int64_t band_rows = 0,
                         const BetweenBlocks& between_blocks = {}) const;
  // image [B, 3, H, W] in [-1, 1] -> the posterior's mean, std and logvar.
  LatentDistribution encode(Arena& arena, const Tensor& image, const BetweenBlocks& between_blocks = {}) const;

  const io::VaeConfig& config() const { return config_; }
  // The downscale from image to latents: 2^(levels - 1).
  int64_t scale() const { return config_.scale(); }

 private:
  // UNetMidBlock2D: resnet, attention (one head over all channels), resnet; no time input.
  struct MidBlock {
    ResnetBlock2D resnet0, resnet1;
    GroupNorm attention_norm;
    Attention attention;
    Tensor operator()(Arena& arena, const Tensor& x) const;
  };
  struct Level {
    std::vector<ResnetBlock2D> resnets;
    bool has_resample = false;
    Conv2d resample;  // the encoder's downsampler or the decoder's upsampler conv
  };
  void check_latents(const Tensor& latents) const;
  // latents [N, C, h, w] -> the first up block's input [N, h, w, top channels] (post_quant_conv,
  // conv_in and the mid block, at latent resolution), as stages of `chain`.
  Tensor decoder_input(ArenaChain& chain, const Tensor& latents) const;
  static MidBlock bind_mid(WeightBinder& w, const std::string& prefix, int64_t channels, int64_t groups);

  io::VaeConfig config_;
  // encoder
  Conv2d enc_conv_in_, enc_conv_out_, quant_conv_;
  std::vector<Level> enc_levels_;
  MidBlock enc_mid_;
  GroupNorm enc_norm_out_;
  // decoder
  Conv2d post_quant_conv_, dec_conv_in_, dec_conv_out_;
  MidBlock dec_mid_;
  std::vector<Level> dec_levels_;
  GroupNorm dec_norm_out_;
};

}  // namespace sdxl::models

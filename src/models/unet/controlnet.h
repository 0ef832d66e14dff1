// diffusers' ControlNetModel (v0.25.1 models/controlnet.py) for SDXL: a copy of the UNet's
// encoder half that also sees a control image, answering the UNet with residuals for its skip
// connections and its mid block:
//   emb = the UNet's time + text_time embedding
//   h = conv_in(sample) + controlnet_cond_embedding(image)
//   down blocks, mid block (the UNet's, with their own weights)
//   residual_i = controlnet_down_blocks[i](skip_i), mid = controlnet_mid_block(h), each x scale
#pragma once

#include <memory>
#include <vector>

#include "io/controlnet_config.h"
#include "models/unet/unet.h"

namespace sdxl::models {

// ControlNetConditioningEmbedding: the control image reduced to the latents' size,
//   conv_in, SiLU, (blocks.2i, SiLU, blocks.2i+1 stride 2, SiLU)..., conv_out.
class ControlNetConditioningEmbedding {
 public:
  static ControlNetConditioningEmbedding bind(WeightBinder& w, const std::string& prefix, int64_t in_channels,
                                              const std::vector<int64_t>& channels, int64_t out_channels);
  // image [B, H, W, in] -> `out` += embedding [B, H / 2^(n-1), W / 2^(n-1), out_channels]
  void accumulate(Arena& arena, const Tensor& image, Tensor& out) const;

 private:
  Conv2d conv_in_, conv_out_;
  std::vector<Conv2d> blocks_;
};

class ControlNetModel {
 public:
  static ControlNetModel load(const io::ControlNetConfig& config, WeightBinder& weights);

  // sample, timestep, context, text_embeds, time_ids: as the UNet's forward (the scaled model
  // input); image [B, 3, H, W] NCHW in [0, 1], H = h * config().image_scale(). Returns residuals
  // in `arena`, residual i multiplied by scales[i] (the mid block's by the last): one per residual
  // and one for the mid block (residual_scales).
  ControlResiduals forward(Arena& arena, const Tensor& sample, float timestep, const Tensor& context,
                           const Tensor& text_embeds, const Tensor& time_ids, const Tensor& image,
                           const std::vector<float>& scales) const;
  // diffusers' scales: `scale` for every output, or in guess mode its logspace(-1, 0) ramp times
  // `scale` (the shallowest residual the weakest, the mid block at `scale`).
  std::vector<float> residual_scales(float scale, bool guess_mode) const;
  size_t residual_count() const { return controlnet_down_blocks_.size(); }

  const io::ControlNetConfig& config() const { return config_; }
  // The channels of a UNet's skip connections, one per residual, in order: what a ControlNet's
  // residuals must match.
  static std::vector<int64_t> residual_channels(const io::UNetConfig& config);

 private:
  io::ControlNetConfig config_;
  TimeTextEmbedding embedding_;
  Conv2d conv_in_;
  ControlNetConditioningEmbedding cond_embedding_;
  std::vector<DownBlock> down_blocks_;
  MidBlock mid_block_;
  std::vector<Conv2d> controlnet_down_blocks_;  // the 1x1 "zero convolutions", one per residual
  Conv2d controlnet_mid_block_;
  // The forward's temporaries (the residuals alone go to the caller's arena); one forward at a
  // time, as the UNet.
  std::unique_ptr<Arena> work_ = std::make_unique<Arena>();
  mutable std::vector<Tensor> skips_;
};

// diffusers' guess-mode scales: torch.logspace(-1, 0, n + 1) in float32 (10^(-1 + k/n)).
std::vector<float> guess_mode_scales(size_t residuals);

}  // namespace sdxl::models

#include "models/unet/controlnet.h"

#include <cmath>

#include "core/error.h"

namespace sdxl::models {

ControlNetConditioningEmbedding ControlNetConditioningEmbedding::bind(WeightBinder& w, const std::string& prefix,
                                                                      int64_t in_channels,
                                                                      const std::vector<int64_t>& channels,
                                                                      int64_t out_channels) {
  ControlNetConditioningEmbedding e;
  e.conv_in_ = Conv2d::bind(w, prefix + ".conv_in", in_channels, channels.front(), 3);
  for (size_t i = 0; i + 1 < channels.size(); ++i) {
    e.blocks_.push_back(Conv2d::bind(w, prefix + ".blocks." + std::to_string(2 * i), channels[i], channels[i], 3));
    e.blocks_.push_back(
        Conv2d::bind(w, prefix + ".blocks." + std::to_string(2 * i + 1), channels[i], channels[i + 1], 3, 2, 1));
  }
  e.conv_out_ = Conv2d::bind(w, prefix + ".conv_out", channels.back(), out_channels, 3);
  return e;
}

void ControlNetConditioningEmbedding::accumulate(Arena& arena, const Tensor& image, Tensor& out) const {
  ArenaScope temporaries(arena);
  Tensor h = conv_in_(arena, image);
  ops::activate_inplace(h, ops::Activation::Silu);
  for (const auto& block : blocks_) {
    h = block(arena, h);
    ops::activate_inplace(h, ops::Activation::Silu);
  }
  SDXL_CHECK(h.dim(1) == out.dim(1) && h.dim(2) == out.dim(2), InvalidArgument, "[controlnet] the control image (",
             image.dim(1), "x", image.dim(2), ") reduces to ", h.dim(1), "x", h.dim(2), ", but the latents are ",
             out.dim(1), "x", out.dim(2));
  conv_out_.accumulate(h, out);
}

std::vector<float> guess_mode_scales(size_t residuals) {
  std::vector<float> scales;
  const double n = static_cast<double>(residuals);
  for (size_t k = 0; k <= residuals; ++k)
    scales.push_back(static_cast<float>(std::pow(10.0, -1.0 + static_cast<double>(k) / n)));
  return scales;
}

ControlNetModel ControlNetModel::load(const io::ControlNetConfig& config, WeightBinder& w) {
  ControlNetModel m;
  m.config_ = config;
  const io::UNetConfig& c = config.unet;
  const int64_t c0 = c.block_out_channels[0];
  m.embedding_ = TimeTextEmbedding::bind(w, c);
  m.conv_in_ = Conv2d::bind(w, "conv_in", c.in_channels, c0, c.conv_in_kernel);
  m.cond_embedding_ = ControlNetConditioningEmbedding::bind(w, "controlnet_cond_embedding", config.conditioning_channels,
                                                            config.conditioning_embedding_out_channels, c0);
  m.down_blocks_ = bind_down_blocks(w, c);
  const std::vector<int64_t> channels = residual_channels(c);
  for (size_t i = 0; i < channels.size(); ++i)
    m.controlnet_down_blocks_.push_back(
        Conv2d::bind(w, "controlnet_down_blocks." + std::to_string(i), channels[i], channels[i], 1));
  m.mid_block_ = bind_mid_block(w, c);
  const int64_t top = c.block_out_channels.back();
  m.controlnet_mid_block_ = Conv2d::bind(w, "controlnet_mid_block", top, top, 1);
  return m;
}

std::vector<int64_t> ControlNetModel::residual_channels(const io::UNetConfig& c) {
  std::vector<int64_t> channels{c.block_out_channels[0]};
  for (size_t i = 0; i < c.levels(); ++i) {
    for (int64_t j = 0; j < c.layers_per_block[i]; ++j) channels.push_back(c.block_out_channels[i]);
    if (i + 1 < c.levels()) channels.push_back(c.block_out_channels[i]);
  }
  return channels;
}

std::vector<float> ControlNetModel::residual_scales(float scale, bool guess_mode) const {
  std::vector<float> scales(residual_count() + 1, scale);
  if (guess_mode && !config_.global_pool_conditions) {
    scales = guess_mode_scales(residual_count());
    for (float& s : scales) s *= scale;
  }
  return scales;
}

ControlResiduals ControlNetModel::forward(Arena& arena, const Tensor& sample, float timestep, const Tensor& context,
                                          const Tensor& text_embeds, const Tensor& time_ids, const Tensor& image,
                                          const std::vector<float>& scales) const {
  const io::UNetConfig& c = config_.unet;
  SDXL_CHECK(sample.rank() == 4 && sample.dim(1) == c.in_channels && sample.dtype() == DType::F32, InvalidArgument,
             "[controlnet] sample must be f32 [B, ", c.in_channels, ", h, w], got ", sample.shape().to_string());
  const int64_t batch = sample.dim(0), k = config_.image_scale();
  SDXL_CHECK(image.rank() == 4 && image.dim(0) == batch && image.dim(1) == config_.conditioning_channels &&
                 image.dim(2) == sample.dim(2) * k && image.dim(3) == sample.dim(3) * k && image.dtype() == DType::F32,
             InvalidArgument, "[controlnet] the control image must be f32 [", batch, ", 3, ", sample.dim(2) * k, ", ",
             sample.dim(3) * k, "] (", k, "x the latents), got ", image.shape().to_string());
  SDXL_CHECK(context.rank() == 3 && context.dim(0) == batch && context.dim(2) == c.cross_attention_dim[0],
             InvalidArgument, "[controlnet] encoder_hidden_states must be [", batch, ", L, ", c.cross_attention_dim[0],
             "], got ", context.shape().to_string());

  Arena& work = *work_;
  work.reset();
  Tensor emb = embedding_(work, batch, timestep, text_embeds, time_ids, Tensor());
  Tensor emb_silu = ops::activate(work, emb, ops::Activation::Silu);
  Tensor cond = ops::nchw_to_nhwc(work, image);
  if (config_.bgr) {  // controlnet_conditioning_channel_order "bgr": torch.flip(cond, dims=[1])
    float* p = cond.data<float>();
    for (int64_t i = 0; i < cond.numel(); i += 3) std::swap(p[i], p[i + 2]);
  }
  Tensor x = conv_in_(work, ops::nchw_to_nhwc(work, sample));
  cond_embedding_.accumulate(work, cond, x);
  std::vector<Tensor>& skips = skips_;
  skips.clear();
  skips.push_back(x);
  for (const auto& block : down_blocks_) x = block(work, x, emb_silu, context, skips);
  x = mid_block_(work, x, emb_silu, context);

  SDXL_CHECK(skips.size() == controlnet_down_blocks_.size(), Internal, "[controlnet] ", skips.size(),
             " skips for ", controlnet_down_blocks_.size(), " residual convolutions");
  SDXL_CHECK(scales.size() == skips.size() + 1, InvalidArgument, "[controlnet] ", scales.size(),
             " scales for ", skips.size(), " residuals and the mid block");
  ControlResiduals out;
  for (size_t i = 0; i < skips.size(); ++i) {
    out.down.push_back(controlnet_down_blocks_[i](arena, skips[i]));
    ops::scale_shift(out.down.back(), scales[i], 0.0f, out.down.back());
  }
  out.mid = controlnet_mid_block_(arena, x);
  ops::scale_shift(out.mid, scales.back(), 0.0f, out.mid);
  skips.clear();
  work.reset();
  return out;
}

}  // namespace sdxl::models

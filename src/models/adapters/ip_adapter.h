// An IP-Adapter as diffusers v0.25.1 applies it (h94/IP-Adapter's files: image_proj.* + ip_adapter.*):
// the image embedding projected to extra tokens, then per cross-attention layer an extra key and
// value of those tokens (to_k_ip, to_v_ip) whose attention, times `scale`, is added to the text's.
//   plain (ImageProjection): tokens = LayerNorm(reshape(proj(image_embeds), [B, N, cross]))
//   plus (Resampler): learned queries attend to proj_in(penultimate hidden states) in 4 layers of
//     (attention over [norm1(x) | norm2(latents)], then a GELU feed-forward), tokens = norm_out(proj_out(latents))
#pragma once

#include <vector>

#include "models/common/layers.h"

namespace sdxl::models {

struct IpAdapterConfig {
  bool plus = false;          // the Resampler ("plus" files) instead of ImageProjection
  int64_t embed_dim = 0;      // the image encoder's projection_dim (plain) or hidden_size (plus)
  int64_t cross_dim = 0;      // the UNet's cross_attention_dim
  int64_t tokens = 4;         // image tokens: 4 (plain), the Resampler's queries (plus)
  int64_t hidden = 0;         // plus: the Resampler's width
  int64_t heads = 0;          // plus: its heads of 64
  int64_t depth = 4;          // plus: its layers
  std::vector<int64_t> layer_channels;  // per ip_adapter.{2k+1}: the attn2 layer's channels
};

class IpAdapter {
 public:
  static IpAdapter load(const IpAdapterConfig& config, WeightBinder& weights);

  // image_embeds [B, embed_dim] (plain) or [B, L, embed_dim] (plus) -> tokens [B, tokens, cross_dim].
  Tensor project(Arena& arena, const Tensor& image_embeds) const;
  // Per cross-attention layer (diffusers' attn_processors order): [B, T, 2C] = to_k_ip(tokens) |
  // scale * to_v_ip(tokens) (the attention is linear in its values: scaling them scales its output).
  std::vector<Tensor> attention_kv(Arena& arena, const Tensor& tokens, float scale) const;

  const IpAdapterConfig& config() const { return config_; }

 private:
  struct ResamplerLayer {
    LayerNorm norm1, norm2;  // of the image features, of the latents
    Linear to_q, to_kv, to_out;
    LayerNorm ff_norm;
    Linear ff_in, ff_out;
  };
  Tensor resample(Arena& arena, const Tensor& features) const;

  IpAdapterConfig config_;
  Linear proj_;  // plain: image_proj.proj
  LayerNorm norm_;  // plain: image_proj.norm; plus: image_proj.norm_out
  Tensor latents_;  // plus: [1, tokens, hidden] f32
  Linear proj_in_, proj_out_;
  std::vector<ResamplerLayer> layers_;
  std::vector<Linear> to_k_ip_, to_v_ip_;
};

}  // namespace sdxl::models

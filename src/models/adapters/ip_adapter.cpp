#include "models/adapters/ip_adapter.h"

#include <string>

#include "core/error.h"

namespace sdxl::models {

IpAdapter IpAdapter::load(const IpAdapterConfig& c, WeightBinder& w) {
  IpAdapter a;
  a.config_ = c;
  if (!c.plus) {
    a.proj_ = Linear::bind(w, "image_proj.proj", c.embed_dim, c.tokens * c.cross_dim);
    a.norm_ = LayerNorm::bind(w, "image_proj.norm", c.cross_dim, 1e-5f);
  } else {
    const int64_t d = c.hidden, inner = c.heads * 64;
    a.latents_ = to_f32(w.take("image_proj.latents", Shape{1, c.tokens, d}));
    a.proj_in_ = Linear::bind(w, "image_proj.proj_in", c.embed_dim, d);
    a.proj_out_ = Linear::bind(w, "image_proj.proj_out", d, c.cross_dim);
    a.norm_ = LayerNorm::bind(w, "image_proj.norm_out", c.cross_dim, 1e-5f);
    for (int64_t i = 0; i < c.depth; ++i) {
      const std::string p = "image_proj.layers." + std::to_string(i);
      ResamplerLayer l;
      l.norm1 = LayerNorm::bind(w, p + ".0.norm1", d, 1e-5f);
      l.norm2 = LayerNorm::bind(w, p + ".0.norm2", d, 1e-5f);
      l.to_q = Linear::bind(w, p + ".0.to_q", d, inner, /*bias=*/false);
      l.to_kv = Linear::bind(w, p + ".0.to_kv", d, 2 * inner, /*bias=*/false);  // k rows, then v rows
      l.to_out = Linear::bind(w, p + ".0.to_out", inner, d, /*bias=*/false);
      l.ff_norm = LayerNorm::bind(w, p + ".1.0", d, 1e-5f);
      l.ff_in = Linear::bind(w, p + ".1.1", d, 4 * d, /*bias=*/false);
      l.ff_out = Linear::bind(w, p + ".1.3", 4 * d, d, /*bias=*/false);
      a.layers_.push_back(std::move(l));
    }
  }
  for (size_t k = 0; k < c.layer_channels.size(); ++k) {
    const std::string p = "ip_adapter." + std::to_string(2 * k + 1);
    a.to_k_ip_.push_back(Linear::bind(w, p + ".to_k_ip", c.cross_dim, c.layer_channels[k], /*bias=*/false));
    a.to_v_ip_.push_back(Linear::bind(w, p + ".to_v_ip", c.cross_dim, c.layer_channels[k], /*bias=*/false));
  }
  return a;
}

Tensor IpAdapter::resample(Arena& arena, const Tensor& features) const {
  const auto& c = config_;
  const int64_t batch = features.dim(0), d = c.hidden;
  const Tensor x = proj_in_(arena, features);  // [B, L, D]
  Tensor latents = Tensor::in_arena(arena, Shape{batch, c.tokens, d}, DType::F32);
  for (int64_t b = 0; b < batch; ++b) {
    Tensor rows = latents.reshape(Shape{batch * c.tokens, d});
    ops::write_rows(rows, b * c.tokens, latents_.reshape(Shape{c.tokens, d}));
  }
  for (const ResamplerLayer& l : layers_) {
    ArenaScope temporaries(arena);
    const Tensor normed_latents = l.norm2(arena, latents);
    // keys and values over [norm1(x) | norm2(latents)] along the tokens
    const Tensor kv_input = ops::concat_tokens(arena, l.norm1(arena, x), normed_latents);
    const Tensor attended =
        ops::attention_fused_kv(arena, l.to_q(arena, normed_latents), l.to_kv(arena, kv_input), c.heads);
    l.to_out.accumulate(attended, latents);
    Tensor hidden = l.ff_in(arena, l.ff_norm(arena, latents));
    ops::activate_inplace(hidden, ops::Activation::GeluErf);
    l.ff_out.accumulate(hidden, latents);
  }
  return norm_(arena, proj_out_(arena, latents));
}

Tensor IpAdapter::project(Arena& arena, const Tensor& embeds) const {
  const auto& c = config_;
  if (c.plus) {
    SDXL_CHECK(embeds.rank() == 3 && embeds.dim(2) == c.embed_dim, InvalidArgument, "[ip-adapter] the plus adapter takes ",
               "hidden states [B, L, ", c.embed_dim, "] of its image encoder, got ", embeds.shape().to_string(),
               " (an image encoder of another width?)");
    return resample(arena, embeds);
  }
  SDXL_CHECK(embeds.rank() == 2 && embeds.dim(1) == c.embed_dim, InvalidArgument, "[ip-adapter] the adapter takes image ",
             "embeddings [B, ", c.embed_dim, "], got ", embeds.shape().to_string(), " (an image encoder of another width?)");
  const int64_t batch = embeds.dim(0);
  return norm_(arena, proj_(arena, embeds).reshape(Shape{batch, c.tokens, c.cross_dim}));
}

std::vector<Tensor> IpAdapter::attention_kv(Arena& arena, const Tensor& tokens, float scale) const {
  std::vector<Tensor> kv;
  for (size_t k = 0; k < to_k_ip_.size(); ++k) {
    const Tensor key = to_k_ip_[k](arena, tokens);
    Tensor value = to_v_ip_[k](arena, tokens);
    ops::scale_shift(value, scale, 0.0f, value);
    kv.push_back(ops::concat_channels(arena, key, value));
  }
  return kv;
}

}  // namespace sdxl::models

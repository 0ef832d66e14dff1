#include "models/common/attention_layers.h"

#include <algorithm>

namespace sdxl::models {

Attention Attention::bind(WeightBinder& w, const std::string& prefix, int64_t query_dim, int64_t context_dim,
                          int64_t heads, int64_t head_dim, bool qkv_bias) {
  Attention a;
  a.heads_ = heads;
  a.precision_ = w.precision();
  const int64_t inner = heads * head_dim;
  a.cross_ = context_dim > 0;
  if (a.cross_) {
    a.q_ = Linear::bind(w, prefix + ".to_q", query_dim, inner, qkv_bias);
    a.kv_ = Linear::bind_fused(w, {prefix + ".to_k", prefix + ".to_v"}, context_dim, inner, qkv_bias);
  } else {
    a.qkv_ = Linear::bind_fused(w, {prefix + ".to_q", prefix + ".to_k", prefix + ".to_v"}, query_dim, inner, qkv_bias);
  }
  a.to_out_ = Linear::bind(w, prefix + ".to_out.0", inner, query_dim);
  return a;
}

void Attention::accumulate(Arena& arena, const Tensor& x, const Tensor* context, Tensor& residual,
                           const Tensor* extra_kv) const {
  ArenaScope temporaries(arena);
  if (!cross_) {
    to_out_.accumulate(ops::attention_fused_qkv(arena, qkv_(arena, x), heads_, /*causal=*/false, precision_), residual);
    return;
  }
  const Tensor q = q_(arena, x);
  Tensor attended = ops::attention_fused_kv(arena, q, kv_(arena, *context), heads_, precision_);
  if (extra_kv) ops::add_inplace(attended, ops::attention_fused_kv(arena, q, *extra_kv, heads_, precision_));
  to_out_.accumulate(attended, residual);
}

BasicTransformerBlock BasicTransformerBlock::bind(WeightBinder& w, const std::string& prefix, int64_t dim,
                                                  int64_t heads, int64_t head_dim, int64_t context_dim) {
  BasicTransformerBlock b;
  b.norm1_ = LayerNorm::bind(w, prefix + ".norm1", dim, 1e-5f);
  b.attn1_ = Attention::bind(w, prefix + ".attn1", dim, 0, heads, head_dim, /*qkv_bias=*/false);
  b.norm2_ = LayerNorm::bind(w, prefix + ".norm2", dim, 1e-5f);
  b.attn2_ = Attention::bind(w, prefix + ".attn2", dim, context_dim, heads, head_dim, /*qkv_bias=*/false);
  b.norm3_ = LayerNorm::bind(w, prefix + ".norm3", dim, 1e-5f);
  b.ff_in_ = Linear::bind(w, prefix + ".ff.net.0.proj", dim, 2 * 4 * dim);
  b.ff_out_ = Linear::bind(w, prefix + ".ff.net.2", 4 * dim, dim);
  return b;
}

void BasicTransformerBlock::operator()(Arena& arena, Tensor& x, const Tensor& context, const Tensor* image_kv) const {
  {
    ArenaScope scope(arena);
    attn1_.accumulate(arena, norm1_(arena, x), nullptr, x);
  }
  {
    ArenaScope scope(arena);
    attn2_.accumulate(arena, norm2_(arena, x), &context, x, image_kv);
  }
  // The feed-forward runs on row blocks: its [rows, 8 dim] projection is the largest activation
  // of the UNet (335 MB per block at 1024x1024).
  ArenaScope scope(arena);
  const int64_t dim = x.dim(-1), rows = x.numel() / dim;
  Tensor normed = norm3_(arena, x);
  for (int64_t first = 0; first < rows; first += feed_forward_rows_) {
    ArenaScope block(arena);
    const int64_t count = std::min(feed_forward_rows_, rows - first);
    const Tensor in = normed.reshape(Shape{rows, dim}).slice_rows(first, count);
    Tensor out = x.reshape(Shape{rows, dim}).slice_rows(first, count);
    Tensor hidden = ops::geglu(arena, ff_in_(arena, in));  // [count, 4 dim]
    ff_out_.accumulate(hidden, out);
  }
}

}  // namespace sdxl::models

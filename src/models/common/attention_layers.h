// Attention blocks: diffusers' Attention (self or cross, multi-head) and BasicTransformerBlock.
#pragma once

#include <string>

#include "models/common/layers.h"

namespace sdxl::models {

// diffusers' Attention: to_q, to_k, to_v (bias optional), to_out.0 (with bias). Self-attention
// runs one fused q|k|v GEMM; cross-attention fuses k|v over the context.
class Attention {
 public:
  static Attention bind(WeightBinder& w, const std::string& prefix, int64_t query_dim, int64_t context_dim /* 0: self */,
                        int64_t heads, int64_t head_dim, bool qkv_bias);
  // residual [B, L, query_dim] += to_out(attention(x, context)); x is the (normalised) input.
  // `extra_kv` [B, T, 2 inner] (cross-attention only): an IP-Adapter's image keys and values
  // (already scaled), attended with the same queries and added before to_out (decoupled
  // cross-attention).
  void accumulate(Arena& arena, const Tensor& x, const Tensor* context, Tensor& residual,
                  const Tensor* extra_kv = nullptr) const;

 private:
  Linear qkv_;       // self-attention: to_q | to_k | to_v
  Linear q_, kv_;    // cross-attention: to_q, and to_k | to_v over the context
  Linear to_out_;
  int64_t heads_ = 1;
  bool cross_ = false;
  ops::Precision precision_ = ops::Precision::F32;  // the layers', for the attention product too
};

// diffusers' BasicTransformerBlock as SDXL configures it (layer norms, self-attention,
// cross-attention, GEGLU feed-forward, all pre-norm with residuals):
//   x += attn1(norm1(x)); x += attn2(norm2(x), context); x += ff(norm3(x))
class BasicTransformerBlock {
 public:
  static BasicTransformerBlock bind(WeightBinder& w, const std::string& prefix, int64_t dim, int64_t heads,
                                    int64_t head_dim, int64_t context_dim);
  // x [B, L, dim], in place; image_kv: an IP-Adapter's keys and values for attn2, or null.
  void operator()(Arena& arena, Tensor& x, const Tensor& context, const Tensor* image_kv = nullptr) const;

  // The feed-forward runs on blocks of this many rows (tokens over the batch): its hidden
  // activation is the largest in the UNet. Changeable for the tests of the blocking.
  void set_feed_forward_rows(int64_t rows) { feed_forward_rows_ = rows; }

 private:
  LayerNorm norm1_, norm2_, norm3_;
  Attention attn1_, attn2_;
  Linear ff_in_;   // ff.net.0.proj: dim -> 2 * 4 * dim (value | gate)
  Linear ff_out_;  // ff.net.2: 4 * dim -> dim
  int64_t feed_forward_rows_ = 2048;  // keeps the GEMMs as fast as whole-tensor ones
};

}  // namespace sdxl::models

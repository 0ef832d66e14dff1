// Multi-head scaled-dot-product attention, blocked over queries so that memory stays
// O(kv_len x block) per thread, never the whole [q_len, kv_len] score matrix.
#pragma once

#include <cstdint>

#include "core/op_types.h"

namespace sdxl::cpu {

struct AttentionShape {
  int64_t batch = 1;
  int64_t heads = 1;
  int64_t q_len = 0;
  int64_t kv_len = 0;
  int64_t head_dim = 0;
  // Row strides (elements) of q [B, q_len, ...], k/v [B, kv_len, ...], out [B, q_len, ...]; head h
  // occupies columns [h * head_dim, (h + 1) * head_dim) of a row, as a linear projection lays it out.
  int64_t q_stride = 0, k_stride = 0, v_stride = 0, out_stride = 0;
  // Causal: query i sees key j only if j <= i + (kv_len - q_len).
  bool causal = false;
  float scale = 0.0f;  // 0 means 1 / sqrt(head_dim)
  // BF16: Q, K, V and the probabilities rounded to bf16, their products summed in f32 (where a
  // bf16 kernel exists for the head size and the CPU: attention_flash.h; elsewhere f32).
  Precision precision = Precision::F32;
};

void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape);

// Query rows per block; exposed for the tests, which check sizes around it.
inline constexpr int64_t kAttentionQueryBlock = 64;

// The kernels' unit of work: a block of up to kAttentionQueryBlock queries of one head of one
// batch item, the keys any of them may see (causal: those before the block's last query), and
// where its rows start in q, k, v and out.
struct AttentionBlock {
  int64_t first_query = 0, rows = 0, keys = 0;
  const float *q = nullptr, *k = nullptr, *v = nullptr;
  float* out = nullptr;
};
int64_t attention_block_count(const AttentionShape& shape);
AttentionBlock attention_block(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape,
                               int64_t index);
float attention_scale(const AttentionShape& shape);  // shape.scale, or 1 / sqrt(head_dim)

}  // namespace sdxl::cpu

#include "backends/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/attention_flash.h"
#include "backends/cpu/matmul.h"
#include "backends/cpu/scratch.h"
#include "backends/cpu/softmax.h"
#include "core/error.h"

namespace sdxl::cpu {

int64_t attention_block_count(const AttentionShape& s) {
  return s.batch * s.heads * ((s.q_len + kAttentionQueryBlock - 1) / kAttentionQueryBlock);
}

AttentionBlock attention_block(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                               int64_t index) {
  const int64_t blocks = (s.q_len + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
  const int64_t block = index % blocks;
  const int64_t head = (index / blocks) % s.heads;
  const int64_t batch = index / (blocks * s.heads);
  AttentionBlock b;
  b.first_query = block * kAttentionQueryBlock;
  b.rows = std::min(kAttentionQueryBlock, s.q_len - b.first_query);
  // Keys no row of this block can see are skipped altogether.
  b.keys = s.causal ? std::min(s.kv_len, b.first_query + b.rows + s.kv_len - s.q_len) : s.kv_len;
  b.q = q + (batch * s.q_len + b.first_query) * s.q_stride + head * s.head_dim;
  b.k = k + batch * s.kv_len * s.k_stride + head * s.head_dim;
  b.v = v + batch * s.kv_len * s.v_stride + head * s.head_dim;
  b.out = out + (batch * s.q_len + b.first_query) * s.out_stride + head * s.head_dim;
  return b;
}

float attention_scale(const AttentionShape& s) {
  return s.scale != 0.0f ? s.scale : 1.0f / std::sqrt(static_cast<float>(s.head_dim));
}

void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s) {
  SDXL_CHECK(s.head_dim > 0 && s.heads > 0 && s.kv_len > 0, InvalidArgument, "[attention] empty heads or keys");
  SDXL_CHECK(!s.causal || s.kv_len >= s.q_len, InvalidArgument, "[attention] causal mask needs kv_len >= q_len");
  if (attention_flash_available(s)) return attention_flash(q, k, v, out, s);
  const float scale = attention_scale(s);
  const int64_t offset = s.kv_len - s.q_len;
  const int64_t tasks = attention_block_count(s);

#pragma omp parallel for schedule(dynamic)
  for (int64_t task = 0; task < tasks; ++task) {
    const AttentionBlock b = attention_block(q, k, v, out, s, task);
    float* scores = thread_scratch<float>(1, static_cast<size_t>(kAttentionQueryBlock * s.kv_len));  // [rows, keys]
    sgemm(b.rows, b.keys, s.head_dim, b.q, s.q_stride, b.k, s.k_stride, true, scores, b.keys, scale, 0.0f);
    for (int64_t r = 0; r < b.rows; ++r) {
      float* row = scores + r * b.keys;
      if (s.causal) {
        const int64_t visible = b.first_query + r + offset + 1;
        for (int64_t j = visible; j < b.keys; ++j) row[j] = -std::numeric_limits<float>::infinity();
      }
      softmax_row(row, row, b.keys);
    }
    sgemm(b.rows, s.head_dim, b.keys, scores, b.keys, b.v, s.v_stride, false, b.out, s.out_stride, 1.0f, 0.0f);
  }
}

}  // namespace sdxl::cpu

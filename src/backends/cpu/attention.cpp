#include "backends/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "backends/cpu/attention_d64.h"
#include "backends/cpu/matmul.h"
#include "backends/cpu/scratch.h"
#include "backends/cpu/softmax.h"
#include "core/error.h"

namespace sdxl::cpu {

void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& s) {
  SDXL_CHECK(s.head_dim > 0 && s.heads > 0 && s.kv_len > 0, InvalidArgument, "[attention] empty heads or keys");
  SDXL_CHECK(!s.causal || s.kv_len >= s.q_len, InvalidArgument, "[attention] causal mask needs kv_len >= q_len");
  if (attention_d64_available(s)) return attention_d64(q, k, v, out, s);
  const float scale = s.scale != 0.0f ? s.scale : 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int64_t blocks = (s.q_len + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
  const int64_t tasks = s.batch * s.heads * blocks;
  const int64_t offset = s.kv_len - s.q_len;

#pragma omp parallel for schedule(dynamic)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t block = task % blocks;
    const int64_t head = (task / blocks) % s.heads;
    const int64_t b = task / (blocks * s.heads);
    const int64_t q0 = block * kAttentionQueryBlock;
    const int64_t rows = std::min(kAttentionQueryBlock, s.q_len - q0);
    // Keys no row of this block can see are skipped altogether.
    const int64_t keys = s.causal ? std::min(s.kv_len, q0 + rows + offset) : s.kv_len;

    const float* qb = q + (b * s.q_len + q0) * s.q_stride + head * s.head_dim;
    const float* kb = k + b * s.kv_len * s.k_stride + head * s.head_dim;
    const float* vb = v + b * s.kv_len * s.v_stride + head * s.head_dim;
    float* ob = out + (b * s.q_len + q0) * s.out_stride + head * s.head_dim;

    float* scores = thread_scratch<float>(1, static_cast<size_t>(kAttentionQueryBlock * s.kv_len));  // [rows, keys]
    sgemm(rows, keys, s.head_dim, qb, s.q_stride, kb, s.k_stride, true, scores, keys, scale, 0.0f);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = scores + r * keys;
      if (s.causal) {
        const int64_t visible = q0 + r + offset + 1;
        for (int64_t j = visible; j < keys; ++j) row[j] = -std::numeric_limits<float>::infinity();
      }
      softmax_row(row, row, keys);
    }
    sgemm(rows, s.head_dim, keys, scores, keys, vb, s.v_stride, false, ob, s.out_stride, 1.0f, 0.0f);
  }
}

}  // namespace sdxl::cpu

#include "backends/cpu/attention_d64.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "backends/cpu/scratch.h"
#include "backends/cpu/simd_math.h"

namespace sdxl::cpu {

#ifdef SDXL_CPU_AVX512
namespace {

constexpr int64_t kDim = 64;    // head size
constexpr int64_t kRows = kAttentionQueryBlock;  // queries per block (64)
constexpr int64_t kKeys = 64;   // keys per block
constexpr float kMasked = -std::numeric_limits<float>::infinity();

// Queries and scores are held transposed (query index last), so that the softmax runs across
// 16 queries per vector with no horizontal reductions, and K and V are read as they lie.
struct Block {
  float qt[kDim * kRows];   // [d][query]: the block's queries times the softmax scale
  float st[kKeys * kRows];  // [key][query]: scores, then probabilities
  float o[kRows * kDim];    // [query][d]: unnormalised output
  float max[kRows], sum[kRows], rescale[kRows];
};

const float kZeroRow[kDim] = {};

// st[j][r] = k_j . q_r for the keys of the block (rows `key_rows`), 8 keys x 32 queries per
// register block.
void scores(Block& b, const float* const* key_rows) {
  for (int64_t j0 = 0; j0 < kKeys; j0 += 8)
    for (int64_t r0 = 0; r0 < kRows; r0 += 32) {
      __m512 acc[8][2];
      for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
      for (int64_t d = 0; d < kDim; ++d) {
        const __m512 q0 = _mm512_loadu_ps(b.qt + d * kRows + r0);
        const __m512 q1 = _mm512_loadu_ps(b.qt + d * kRows + r0 + 16);
        for (int i = 0; i < 8; ++i) {
          const __m512 kv = _mm512_set1_ps(key_rows[j0 + i][d]);
          acc[i][0] = _mm512_fmadd_ps(kv, q0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(kv, q1, acc[i][1]);
        }
      }
      for (int i = 0; i < 8; ++i) {
        _mm512_storeu_ps(b.st + (j0 + i) * kRows + r0, acc[i][0]);
        _mm512_storeu_ps(b.st + (j0 + i) * kRows + r0 + 16, acc[i][1]);
      }
    }
}

// Scores of a block -> probabilities against the running maximum of each query; sums and
// outputs so far are rescaled where the maximum grew. Query r sees the block's first
// visible[r] keys.
void online_softmax(Block& b, int64_t keys, const int32_t* visible) {
  for (int64_t r0 = 0; r0 < kRows; r0 += 16) {
    const __m512i seen = _mm512_loadu_si512(visible + r0);
    __m512 block_max = _mm512_set1_ps(kMasked);
    for (int64_t j = 0; j < keys; ++j) {
      float* s = b.st + j * kRows + r0;
      const __mmask16 visible_lanes = _mm512_cmpgt_epi32_mask(seen, _mm512_set1_epi32(static_cast<int32_t>(j)));
      const __m512 v = _mm512_mask_blend_ps(visible_lanes, _mm512_set1_ps(kMasked), _mm512_loadu_ps(s));
      _mm512_storeu_ps(s, v);
      block_max = _mm512_max_ps(block_max, v);
    }
    const __m512 old_max = _mm512_loadu_ps(b.max + r0);
    const __m512 new_max = _mm512_max_ps(old_max, block_max);
    // Queries that have seen no key yet keep weight 0: exp(-inf - 0) = 0.
    const __mmask16 any = _mm512_cmp_ps_mask(new_max, _mm512_set1_ps(kMasked), _CMP_GT_OQ);
    const __m512 shift = _mm512_maskz_mov_ps(any, new_max);
    const __m512 rescale = exp512(_mm512_sub_ps(old_max, shift));
    __m512 total = _mm512_setzero_ps();
    for (int64_t j = 0; j < keys; ++j) {
      float* s = b.st + j * kRows + r0;
      const __m512 p = exp512(_mm512_sub_ps(_mm512_loadu_ps(s), shift));
      _mm512_storeu_ps(s, p);
      total = _mm512_add_ps(total, p);
    }
    _mm512_storeu_ps(b.sum + r0, _mm512_fmadd_ps(_mm512_loadu_ps(b.sum + r0), rescale, total));
    _mm512_storeu_ps(b.max + r0, new_max);
    _mm512_storeu_ps(b.rescale + r0, rescale);
  }
  for (int64_t r = 0; r < kRows; ++r) {
    if (b.rescale[r] == 1.0f) continue;
    const __m512 factor = _mm512_set1_ps(b.rescale[r]);
    for (int64_t d = 0; d < kDim; d += 16)
      _mm512_storeu_ps(b.o + r * kDim + d, _mm512_mul_ps(_mm512_loadu_ps(b.o + r * kDim + d), factor));
  }
}

// o[r] += sum_j p[j][r] v_j for queries [0, rows) (a multiple of 8) and the block's keys, 8
// queries x 32 dimensions per register block.
void accumulate_values(Block& b, const float* v, int64_t stride, int64_t rows, int64_t keys) {
  for (int64_t r0 = 0; r0 < rows; r0 += 8)
    for (int64_t d0 = 0; d0 < kDim; d0 += 32) {
      __m512 acc[8][2];
      for (int i = 0; i < 8; ++i) {
        acc[i][0] = _mm512_loadu_ps(b.o + (r0 + i) * kDim + d0);
        acc[i][1] = _mm512_loadu_ps(b.o + (r0 + i) * kDim + d0 + 16);
      }
      for (int64_t key = 0; key < keys; ++key) {
        const float* row = v + key * stride + d0;
        const __m512 v0 = _mm512_loadu_ps(row), v1 = _mm512_loadu_ps(row + 16);
        const float* p = b.st + key * kRows + r0;
        for (int i = 0; i < 8; ++i) {
          const __m512 pi = _mm512_set1_ps(p[i]);
          acc[i][0] = _mm512_fmadd_ps(pi, v0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(pi, v1, acc[i][1]);
        }
      }
      for (int i = 0; i < 8; ++i) {
        _mm512_storeu_ps(b.o + (r0 + i) * kDim + d0, acc[i][0]);
        _mm512_storeu_ps(b.o + (r0 + i) * kDim + d0 + 16, acc[i][1]);
      }
    }
}

}  // namespace

bool attention_d64_available(const AttentionShape& shape) { return shape.head_dim == kDim; }

void attention_d64(const float* q, const float* k, const float* v, float* out, const AttentionShape& s) {
  const float scale = attention_scale(s);
  const int64_t offset = s.kv_len - s.q_len;  // causal: query i sees keys j <= i + offset
  const int64_t tasks = attention_block_count(s);

#pragma omp parallel for schedule(dynamic)
  for (int64_t task = 0; task < tasks; ++task) {
    const AttentionBlock block = attention_block(q, k, v, out, s, task);
    const int64_t rows = block.rows;
    Block& b = *reinterpret_cast<Block*>(thread_scratch<float>(3, sizeof(Block) / sizeof(float)));
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t d = 0; d < kDim; ++d) b.qt[d * kRows + r] = r < rows ? block.q[r * s.q_stride + d] * scale : 0.0f;
    std::fill(b.o, b.o + kRows * kDim, 0.0f);
    std::fill(b.max, b.max + kRows, kMasked);
    std::fill(b.sum, b.sum + kRows, 0.0f);
    const int64_t active_rows = (rows + 7) / 8 * 8;

    const float* key_rows[kKeys];
    alignas(64) int32_t visible[kRows];
    for (int64_t k0 = 0; k0 < block.keys; k0 += kKeys) {
      const int64_t count = std::min(kKeys, block.keys - k0);
      for (int64_t j = 0; j < kKeys; ++j) key_rows[j] = j < count ? block.k + (k0 + j) * s.k_stride : kZeroRow;
      scores(b, key_rows);
      for (int64_t r = 0; r < kRows; ++r) {
        const int64_t seen = s.causal ? std::clamp<int64_t>(block.first_query + r + offset + 1 - k0, 0, count) : count;
        visible[r] = static_cast<int32_t>(seen);
      }
      online_softmax(b, count, visible);
      accumulate_values(b, block.v + k0 * s.v_stride, s.v_stride, active_rows, count);
    }
    for (int64_t r = 0; r < rows; ++r) {
      const __m512 inverse = _mm512_set1_ps(b.sum[r] > 0.0f ? 1.0f / b.sum[r] : 0.0f);
      float* row = block.out + r * s.out_stride;
      for (int64_t j = 0; j < kDim; j += 16)
        _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(b.o + r * kDim + j), inverse));
    }
  }
}

#else

bool attention_d64_available(const AttentionShape&) { return false; }
void attention_d64(const float*, const float*, const float*, float*, const AttentionShape&) {}

#endif

}  // namespace sdxl::cpu

#include "backends/cpu/attention_flash.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include "backends/cpu/scratch.h"
#include "backends/cpu/simd_math.h"

namespace sdxl::cpu {

#ifdef SDXL_CPU_AVX512
namespace {

constexpr int64_t kRows = kAttentionQueryBlock;  // queries per block (64)
constexpr int64_t kKeys = 64;                    // keys per block
constexpr int64_t kMaxDim = 512;
constexpr float kMasked = -std::numeric_limits<float>::infinity();

const float kZeroRow[kMaxDim] = {};

// What both arithmetics share. Scores are held transposed (query index last), so that the
// softmax runs across 16 queries per vector with no horizontal reductions.
template <int64_t D>
struct Accumulators {
  float st[kKeys * kRows];  // [key][query]: scores, then probabilities
  float o[kRows * D];       // [query][d]: unnormalised output
  float max[kRows], sum[kRows], rescale[kRows];
};

// Scores of a block -> probabilities against the running maximum of each query; sums and
// outputs so far are rescaled where the maximum grew. Query r sees the block's first
// visible[r] keys.
template <int64_t D>
void online_softmax(Accumulators<D>& b, int64_t keys, const int32_t* visible) {
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
    for (int64_t d = 0; d < D; d += 16)
      _mm512_storeu_ps(b.o + r * D + d, _mm512_mul_ps(_mm512_loadu_ps(b.o + r * D + d), factor));
  }
}

// ---- f32: K and V read as they lie ------------------------------------------------------------
template <int64_t D>
struct F32Flash {
  struct Work {
    float qt[D * kRows];  // [d][query]: the block's queries times the softmax scale
    Accumulators<D> acc;
  };
  const AttentionShape& s;

  void load_queries(Work& w, const AttentionBlock& block, float scale) const {
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t d = 0; d < D; ++d) w.qt[d * kRows + r] = r < block.rows ? block.q[r * s.q_stride + d] * scale : 0.0f;
  }

  // st[j][r] = k_j . q_r for the block's `count` keys from k0, 8 keys x 32 queries per register block.
  void scores(Work& w, const AttentionBlock& block, int64_t, int64_t k0, int64_t count) const {
    for (int64_t j0 = 0; j0 < count; j0 += 8) {
      const float* rows[8];
      for (int i = 0; i < 8; ++i) rows[i] = j0 + i < count ? block.k + (k0 + j0 + i) * s.k_stride : kZeroRow;
      for (int64_t r0 = 0; r0 < kRows; r0 += 32) {
        __m512 acc[8][2];
        for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
        for (int64_t d = 0; d < D; ++d) {
          const __m512 q0 = _mm512_loadu_ps(w.qt + d * kRows + r0);
          const __m512 q1 = _mm512_loadu_ps(w.qt + d * kRows + r0 + 16);
          for (int i = 0; i < 8; ++i) {
            const __m512 kv = _mm512_set1_ps(rows[i][d]);
            acc[i][0] = _mm512_fmadd_ps(kv, q0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(kv, q1, acc[i][1]);
          }
        }
        for (int i = 0; i < 8; ++i) {
          _mm512_storeu_ps(w.acc.st + (j0 + i) * kRows + r0, acc[i][0]);
          _mm512_storeu_ps(w.acc.st + (j0 + i) * kRows + r0 + 16, acc[i][1]);
        }
      }
    }
  }

  // o[r] += sum_j p[j][r] v_j for queries [0, rows) (a multiple of 8), 8 queries x 32
  // dimensions per register block.
  void accumulate(Work& w, const AttentionBlock& block, int64_t, int64_t k0, int64_t count, int64_t rows) const {
    const float* v = block.v + k0 * s.v_stride;
    for (int64_t r0 = 0; r0 < rows; r0 += 8)
      for (int64_t d0 = 0; d0 < D; d0 += 32) {
        __m512 acc[8][2];
        for (int i = 0; i < 8; ++i) {
          acc[i][0] = _mm512_loadu_ps(w.acc.o + (r0 + i) * D + d0);
          acc[i][1] = _mm512_loadu_ps(w.acc.o + (r0 + i) * D + d0 + 16);
        }
        for (int64_t key = 0; key < count; ++key) {
          const float* row = v + key * s.v_stride + d0;
          const __m512 v0 = _mm512_loadu_ps(row), v1 = _mm512_loadu_ps(row + 16);
          const float* p = w.acc.st + key * kRows + r0;
          for (int i = 0; i < 8; ++i) {
            const __m512 pi = _mm512_set1_ps(p[i]);
            acc[i][0] = _mm512_fmadd_ps(pi, v0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(pi, v1, acc[i][1]);
          }
        }
        for (int i = 0; i < 8; ++i) {
          _mm512_storeu_ps(w.acc.o + (r0 + i) * D + d0, acc[i][0]);
          _mm512_storeu_ps(w.acc.o + (r0 + i) * D + d0 + 16, acc[i][1]);
        }
      }
  }
};

#ifdef __AVX512BF16__
// ---- bf16: vdpbf16ps multiplies pairs of bf16 and adds both products to an f32 lane. Each
// operand is laid out so that a pair is what one lane needs: queries as (q[r][2i], q[r][2i+1])
// against a broadcast key pair, values as (v[2j][d], v[2j+1][d]) against a broadcast pair of
// probabilities (p[2j][r], p[2j+1][r]). K and V are converted once per call, not per query block.

inline __m512bh as_bf16(__m512i x) { return std::bit_cast<__m512bh>(x); }
inline __m512i as_words(__m512bh x) { return std::bit_cast<__m512i>(x); }

// a, b (16 floats each) -> 16 pairs (a[i], b[i]) of bf16, rounded to nearest even.
inline __m512i interleave_bf16(__m512 a, __m512 b) {
  alignas(64) static const uint16_t order[32] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23,
                                                 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31};
  // cvtne2ps_pbh(b, a) holds a's 16 values, then b's.
  return _mm512_permutexvar_epi16(_mm512_load_si512(order), as_words(_mm512_cvtne2ps_pbh(b, a)));
}

const uint32_t kZeroPairs[kMaxDim / 2] = {};

template <int64_t D>
struct Bf16Flash {
  struct Work {
    uint32_t qt[D / 2 * kRows];     // [d pair][query]: the queries times the softmax scale
    uint32_t pt[kKeys / 2 * kRows];  // [key pair][query]: the probabilities of a key block
    Accumulators<D> acc;
  };
  const AttentionShape& s;
  const uint32_t* keys = nullptr;    // [batch x head][kv_len][D / 2]: each key row in bf16
  const uint32_t* values = nullptr;  // [batch x head][value_pairs][D]: pairs of value rows
  int64_t value_pairs = 0;

  Bf16Flash(const float* k, const float* v, const AttentionShape& shape) : s(shape) {
    const int64_t items = s.batch * s.heads;
    value_pairs = (s.kv_len + 1) / 2;
    const size_t key_words = static_cast<size_t>(items * s.kv_len * D / 2);
    uint32_t* packed = thread_scratch<uint32_t>(0, key_words + static_cast<size_t>(items * value_pairs * D));
    keys = packed;
    values = packed + key_words;
#pragma omp parallel for schedule(static)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t batch = item / s.heads, head = item % s.heads;
      const float* k_rows = k + batch * s.kv_len * s.k_stride + head * D;
      const float* v_rows = v + batch * s.kv_len * s.v_stride + head * D;
      uint32_t* k_out = packed + item * s.kv_len * D / 2;
      uint32_t* v_out = packed + key_words + item * value_pairs * D;
      for (int64_t j = 0; j < s.kv_len; ++j)
        for (int64_t d = 0; d < D; d += 32) {
          const float* row = k_rows + j * s.k_stride + d;
          const __m512bh words = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(row + 16), _mm512_loadu_ps(row));
          _mm512_storeu_si512(k_out + j * D / 2 + d / 2, as_words(words));
        }
      for (int64_t pair = 0; pair < value_pairs; ++pair) {
        const float* first = v_rows + 2 * pair * s.v_stride;
        const float* second = 2 * pair + 1 < s.kv_len ? first + s.v_stride : kZeroRow;
        for (int64_t d = 0; d < D; d += 16)
          _mm512_storeu_si512(v_out + pair * D + d,
                              interleave_bf16(_mm512_loadu_ps(first + d), _mm512_loadu_ps(second + d)));
      }
    }
  }

  void load_queries(Work& w, const AttentionBlock& block, float scale) const {
    const __m512 factor = _mm512_set1_ps(scale);
    alignas(64) uint32_t pairs[16];
    for (int64_t r = 0; r < kRows; ++r)
      for (int64_t d = 0; d < D; d += 32) {
        if (r < block.rows) {
          const float* row = block.q + r * s.q_stride + d;
          const __m512bh words = _mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_loadu_ps(row + 16), factor),
                                                     _mm512_mul_ps(_mm512_loadu_ps(row), factor));
          _mm512_store_si512(pairs, as_words(words));
        } else {
          std::fill(pairs, pairs + 16, 0u);
        }
        for (int64_t i = 0; i < 16; ++i) w.qt[(d / 2 + i) * kRows + r] = pairs[i];
      }
  }

  void scores(Work& w, const AttentionBlock&, int64_t item, int64_t k0, int64_t count) const {
    const uint32_t* base = keys + (item * s.kv_len + k0) * D / 2;
    for (int64_t j0 = 0; j0 < count; j0 += 8) {
      const uint32_t* rows[8];
      for (int i = 0; i < 8; ++i) rows[i] = j0 + i < count ? base + (j0 + i) * D / 2 : kZeroPairs;
      for (int64_t r0 = 0; r0 < kRows; r0 += 32) {
        __m512 acc[8][2];
        for (auto& row : acc) row[0] = row[1] = _mm512_setzero_ps();
        for (int64_t p = 0; p < D / 2; ++p) {
          const __m512bh q0 = as_bf16(_mm512_loadu_si512(w.qt + p * kRows + r0));
          const __m512bh q1 = as_bf16(_mm512_loadu_si512(w.qt + p * kRows + r0 + 16));
          for (int i = 0; i < 8; ++i) {
            const __m512bh kv = as_bf16(_mm512_set1_epi32(static_cast<int32_t>(rows[i][p])));
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], q0, kv);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], q1, kv);
          }
        }
        for (int i = 0; i < 8; ++i) {
          _mm512_storeu_ps(w.acc.st + (j0 + i) * kRows + r0, acc[i][0]);
          _mm512_storeu_ps(w.acc.st + (j0 + i) * kRows + r0 + 16, acc[i][1]);
        }
      }
    }
  }

  void accumulate(Work& w, const AttentionBlock&, int64_t item, int64_t k0, int64_t count, int64_t rows) const {
    const int64_t pairs = (count + 1) / 2;
    for (int64_t pair = 0; pair < pairs; ++pair)
      for (int64_t r0 = 0; r0 < kRows; r0 += 16) {
        const __m512 first = _mm512_loadu_ps(w.acc.st + 2 * pair * kRows + r0);
        const __m512 second =
            2 * pair + 1 < count ? _mm512_loadu_ps(w.acc.st + (2 * pair + 1) * kRows + r0) : _mm512_setzero_ps();
        _mm512_storeu_si512(w.pt + pair * kRows + r0, interleave_bf16(first, second));
      }
    const uint32_t* v = values + (item * value_pairs + k0 / 2) * D;
    for (int64_t r0 = 0; r0 < rows; r0 += 8)
      for (int64_t d0 = 0; d0 < D; d0 += 32) {
        __m512 acc[8][2];
        for (int i = 0; i < 8; ++i) {
          acc[i][0] = _mm512_loadu_ps(w.acc.o + (r0 + i) * D + d0);
          acc[i][1] = _mm512_loadu_ps(w.acc.o + (r0 + i) * D + d0 + 16);
        }
        for (int64_t pair = 0; pair < pairs; ++pair) {
          const __m512bh v0 = as_bf16(_mm512_loadu_si512(v + pair * D + d0));
          const __m512bh v1 = as_bf16(_mm512_loadu_si512(v + pair * D + d0 + 16));
          const uint32_t* p = w.pt + pair * kRows + r0;
          for (int i = 0; i < 8; ++i) {
            const __m512bh pi = as_bf16(_mm512_set1_epi32(static_cast<int32_t>(p[i])));
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], v0, pi);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], v1, pi);
          }
        }
        for (int i = 0; i < 8; ++i) {
          _mm512_storeu_ps(w.acc.o + (r0 + i) * D + d0, acc[i][0]);
          _mm512_storeu_ps(w.acc.o + (r0 + i) * D + d0 + 16, acc[i][1]);
        }
      }
  }
};
#endif  // __AVX512BF16__

// The block loop both arithmetics share: per task (64 queries of one head of one batch item),
// key blocks of 64 through scores, online softmax and the value accumulation.
template <int64_t D, class Kernel>
void run_flash(const Kernel& kernel, const float* q, const float* k, const float* v, float* out,
               const AttentionShape& s) {
  using Work = typename Kernel::Work;
  const float scale = attention_scale(s);
  const int64_t offset = s.kv_len - s.q_len;  // causal: query i sees keys j <= i + offset
  const int64_t tasks = attention_block_count(s);
  const int64_t query_blocks = (s.q_len + kRows - 1) / kRows;

#pragma omp parallel for schedule(dynamic)
  for (int64_t task = 0; task < tasks; ++task) {
    const AttentionBlock block = attention_block(q, k, v, out, s, task);
    const int64_t item = task / query_blocks;  // batch x head
    Work& w = *reinterpret_cast<Work*>(thread_scratch<float>(3, sizeof(Work) / sizeof(float) + 1));
    Accumulators<D>& acc = w.acc;
    kernel.load_queries(w, block, scale);
    std::fill(acc.o, acc.o + kRows * D, 0.0f);
    std::fill(acc.max, acc.max + kRows, kMasked);
    std::fill(acc.sum, acc.sum + kRows, 0.0f);
    const int64_t active_rows = (block.rows + 7) / 8 * 8;

    alignas(64) int32_t visible[kRows];
    for (int64_t k0 = 0; k0 < block.keys; k0 += kKeys) {
      const int64_t count = std::min(kKeys, block.keys - k0);
      kernel.scores(w, block, item, k0, count);
      for (int64_t r = 0; r < kRows; ++r) {
        const int64_t seen = s.causal ? std::clamp<int64_t>(block.first_query + r + offset + 1 - k0, 0, count) : count;
        visible[r] = static_cast<int32_t>(seen);
      }
      online_softmax(acc, count, visible);
      kernel.accumulate(w, block, item, k0, count, active_rows);
    }
    for (int64_t r = 0; r < block.rows; ++r) {
      const __m512 inverse = _mm512_set1_ps(acc.sum[r] > 0.0f ? 1.0f / acc.sum[r] : 0.0f);
      float* row = block.out + r * s.out_stride;
      for (int64_t j = 0; j < D; j += 16)
        _mm512_storeu_ps(row + j, _mm512_mul_ps(_mm512_loadu_ps(acc.o + r * D + j), inverse));
    }
  }
}

template <int64_t D>
void attention_with_dim(const float* q, const float* k, const float* v, float* out, const AttentionShape& s) {
#ifdef __AVX512BF16__
  if (s.precision == Precision::BF16) return run_flash<D>(Bf16Flash<D>(k, v, s), q, k, v, out, s);
#endif
  run_flash<D>(F32Flash<D>{s}, q, k, v, out, s);
}

}  // namespace

bool attention_flash_available(const AttentionShape& shape) { return shape.head_dim == 64 || shape.head_dim == 512; }

bool attention_flash_bf16_built() {
#ifdef __AVX512BF16__
  return true;
#else
  return false;
#endif
}

void attention_flash(const float* q, const float* k, const float* v, float* out, const AttentionShape& s) {
  if (s.head_dim == 64) return attention_with_dim<64>(q, k, v, out, s);
  attention_with_dim<512>(q, k, v, out, s);
}

#else

bool attention_flash_available(const AttentionShape&) { return false; }
bool attention_flash_bf16_built() { return false; }
void attention_flash(const float*, const float*, const float*, float*, const AttentionShape&) {}

#endif

}  // namespace sdxl::cpu

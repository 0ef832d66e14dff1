#include "backends/cpu/attention_flash.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

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
// softmax runs across 16 queries per vector with no horizontal reductions. Scores are in base-2
// units (the queries carry log2(e) in their scale), so the softmax's exponentials are 2^x.
template <int64_t D>
struct Accumulators {
  float st[kKeys * kRows];  // [key][query]: scores (f32 kernel: then probabilities)
  float o[kRows * D];       // [query][d]: unnormalised output
  float max[kRows], sum[kRows], rescale[kRows];
  float block_max[kRows];  // the largest visible score of the current key block
};

// 2^x for the softmax's x <= 0 (-inf for a masked key): x = n + f with |f| <= 1/2, 2^f by a
// minimax polynomial, times 2^n with vscalefps (which underflows to zero below the clamp).
// Degree 6 is within 1e-7 relative (f32 rounding); degree 3 within 8e-5, far below the 2^-9 of
// the bf16 rounding the bf16 kernel gives the probabilities next.
template <int Degree>
inline __m512 exp2_nonpositive(__m512 x) {
  static_assert(Degree == 3 || Degree == 6);
  x = _mm512_max_ps(x, _mm512_set1_ps(-160.0f));
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p;
  if constexpr (Degree == 6) {
    p = _mm512_set1_ps(1.53458124e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.33999309e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.61848907e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.55032864e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.40226462e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.93147182e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  } else {
    p = _mm512_set1_ps(5.51716685e-2f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.42611125e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.93260968e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.99928057e-1f));
  }
  return _mm512_scalef_ps(p, n);
}

// The scores kernels' epilogue: the scores of keys j0..j0+7 for queries r0..r0+31 (acc[i][half]),
// masked where a query may not see the key (key j is visible to query r when j < visible[r]),
// stored, and folded into the block's maximum.
template <int64_t D>
inline void keep_scores(Accumulators<D>& b, int64_t j0, int64_t r0, const __m512 (&acc)[8][2],
                        const int32_t* visible) {
  for (int half = 0; half < 2; ++half) {
    const int64_t r = r0 + 16 * half;
    const __m512i seen = _mm512_loadu_si512(visible + r);
    __m512 block_max = _mm512_loadu_ps(b.block_max + r);
    for (int i = 0; i < 8; ++i) {
      const __mmask16 lanes = _mm512_cmpgt_epi32_mask(seen, _mm512_set1_epi32(static_cast<int32_t>(j0 + i)));
      const __m512 kept = _mm512_mask_blend_ps(lanes, _mm512_set1_ps(kMasked), acc[i][half]);
      _mm512_storeu_ps(b.st + (j0 + i) * kRows + r, kept);
      block_max = _mm512_max_ps(block_max, kept);
    }
    _mm512_storeu_ps(b.block_max + r, block_max);
  }
}

// The block's scores -> probabilities against the running maximum of each query, handed to
// `keep(j, r0, p_j, p_j+1)` two keys at a time (the second zero past the block's end); the sums
// so far are rescaled where the maximum grew, and the factor kept for the outputs so far.
template <int Degree, int64_t D, class Keep>
void online_softmax(Accumulators<D>& b, int64_t keys, Keep keep) {
  for (int64_t r0 = 0; r0 < kRows; r0 += 16) {
    const __m512 old_max = _mm512_loadu_ps(b.max + r0);
    const __m512 new_max = _mm512_max_ps(old_max, _mm512_loadu_ps(b.block_max + r0));
    // Queries that have seen no key yet keep weight 0: 2^(-inf - 0) = 0.
    const __mmask16 any = _mm512_cmp_ps_mask(new_max, _mm512_set1_ps(kMasked), _CMP_GT_OQ);
    const __m512 shift = _mm512_maskz_mov_ps(any, new_max);
    const __m512 rescale = exp2_nonpositive<6>(_mm512_sub_ps(old_max, shift));
    __m512 total = _mm512_setzero_ps();
    for (int64_t j = 0; j < keys; j += 2) {
      const __m512 first = exp2_nonpositive<Degree>(_mm512_sub_ps(_mm512_loadu_ps(b.st + j * kRows + r0), shift));
      const __m512 second = j + 1 < keys ? exp2_nonpositive<Degree>(_mm512_sub_ps(
                                               _mm512_loadu_ps(b.st + (j + 1) * kRows + r0), shift))
                                         : _mm512_setzero_ps();
      total = _mm512_add_ps(total, _mm512_add_ps(first, second));
      keep(j, r0, first, second);
    }
    _mm512_storeu_ps(b.sum + r0, _mm512_fmadd_ps(_mm512_loadu_ps(b.sum + r0), rescale, total));
    _mm512_storeu_ps(b.max + r0, new_max);
    _mm512_storeu_ps(b.rescale + r0, rescale);
  }
}

// The value accumulation's register block (queries r0..r0+7, dimensions d0..d0+31) as the
// block's accumulation starts it: zero in the first key block (o holds nothing yet), else the
// output so far times its query's rescale factor.
template <int64_t D>
inline void start_outputs(const Accumulators<D>& b, int64_t r0, int64_t d0, bool first_block, __m512 (&acc)[8][2]) {
  for (int i = 0; i < 8; ++i) {
    if (first_block) {
      acc[i][0] = acc[i][1] = _mm512_setzero_ps();
      continue;
    }
    const __m512 factor = _mm512_set1_ps(b.rescale[r0 + i]);
    acc[i][0] = _mm512_mul_ps(_mm512_loadu_ps(b.o + (r0 + i) * D + d0), factor);
    acc[i][1] = _mm512_mul_ps(_mm512_loadu_ps(b.o + (r0 + i) * D + d0 + 16), factor);
  }
}

template <int64_t D>
inline void keep_outputs(Accumulators<D>& b, int64_t r0, int64_t d0, const __m512 (&acc)[8][2]) {
  for (int i = 0; i < 8; ++i) {
    _mm512_storeu_ps(b.o + (r0 + i) * D + d0, acc[i][0]);
    _mm512_storeu_ps(b.o + (r0 + i) * D + d0 + 16, acc[i][1]);
  }
}

// Sixteen rows of sixteen 32-bit values -> their transpose (rows[c] = the old column c): 32-bit
// and 64-bit interleaves make 4x4 blocks within each 128-bit lane, two lane shuffles place them.
inline void transpose16(__m512i rows[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(rows[i], rows[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(rows[i], rows[i + 1]);
  }
  // u[4g + e], 128-bit lane L: rows 4g..4g+3 of column 4L + e.
  __m512i u[16];
  for (int g = 0; g < 16; g += 4) {
    u[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
    u[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
    u[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
    u[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
  }
  for (int e = 0; e < 4; ++e) {
    const __m512i even_lanes01 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0x88);
    const __m512i odd_lanes01 = _mm512_shuffle_i32x4(u[e], u[4 + e], 0xDD);
    const __m512i even_lanes23 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0x88);
    const __m512i odd_lanes23 = _mm512_shuffle_i32x4(u[8 + e], u[12 + e], 0xDD);
    rows[e] = _mm512_shuffle_i32x4(even_lanes01, even_lanes23, 0x88);
    rows[4 + e] = _mm512_shuffle_i32x4(odd_lanes01, odd_lanes23, 0x88);
    rows[8 + e] = _mm512_shuffle_i32x4(even_lanes01, even_lanes23, 0xDD);
    rows[12 + e] = _mm512_shuffle_i32x4(odd_lanes01, odd_lanes23, 0xDD);
  }
}

// The block's queries, 16 rows x 16 words at a time through `words(row pointer, first column)`,
// stored transposed: qt[column][query]. Rows past the block's end are zeros.
template <class Words>
void transpose_queries(uint32_t* qt, const AttentionBlock& block, int64_t q_stride, int64_t columns, Words words) {
  for (int64_t r0 = 0; r0 < kRows; r0 += 16)
    for (int64_t c0 = 0; c0 < columns; c0 += 16) {
      __m512i rows[16];
      for (int64_t i = 0; i < 16; ++i)
        rows[i] = r0 + i < block.rows ? words(block.q + (r0 + i) * q_stride, c0) : _mm512_setzero_si512();
      transpose16(rows);
      for (int64_t i = 0; i < 16; ++i) _mm512_storeu_si512(qt + (c0 + i) * kRows + r0, rows[i]);
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
    const __m512 factor = _mm512_set1_ps(scale);
    transpose_queries(reinterpret_cast<uint32_t*>(w.qt), block, s.q_stride, D, [&](const float* row, int64_t d) {
      return _mm512_castps_si512(_mm512_mul_ps(_mm512_loadu_ps(row + d), factor));
    });
  }

  // st[j][r] = k_j . q_r for the block's `count` keys from k0, 8 keys x 32 queries per register block.
  void scores(Work& w, const AttentionBlock& block, int64_t, int64_t k0, int64_t count, const int32_t* visible) const {
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
        keep_scores(w.acc, j0, r0, acc, visible);
      }
    }
  }

  void softmax(Work& w, int64_t count) const {
    online_softmax<6>(w.acc, count, [&](int64_t j, int64_t r0, __m512 first, __m512 second) {
      _mm512_storeu_ps(w.acc.st + j * kRows + r0, first);
      _mm512_storeu_ps(w.acc.st + (j + 1) * kRows + r0, second);
    });
  }

  // o[r] += sum_j p[j][r] v_j for queries [0, rows) (a multiple of 8), 8 queries x 32
  // dimensions per register block.
  void accumulate(Work& w, const AttentionBlock& block, int64_t, int64_t k0, int64_t count, int64_t rows) const {
    const float* v = block.v + k0 * s.v_stride;
    for (int64_t r0 = 0; r0 < rows; r0 += 8)
      for (int64_t d0 = 0; d0 < D; d0 += 32) {
        __m512 acc[8][2];
        start_outputs(w.acc, r0, d0, k0 == 0, acc);
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
        keep_outputs(w.acc, r0, d0, acc);
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
    // Word p of a row: the pair (q[2p], q[2p+1]) in bf16.
    transpose_queries(w.qt, block, s.q_stride, D / 2, [&](const float* row, int64_t p) {
      const float* d = row + 2 * p;
      return as_words(_mm512_cvtne2ps_pbh(_mm512_mul_ps(_mm512_loadu_ps(d + 16), factor),
                                          _mm512_mul_ps(_mm512_loadu_ps(d), factor)));
    });
  }

  void scores(Work& w, const AttentionBlock&, int64_t item, int64_t k0, int64_t count, const int32_t* visible) const {
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
        keep_scores(w.acc, j0, r0, acc, visible);
      }
    }
  }

  // The probabilities go straight into pairs of bf16 (p[2j][r], p[2j+1][r]).
  void softmax(Work& w, int64_t count) const {
    online_softmax<3>(w.acc, count, [&](int64_t j, int64_t r0, __m512 first, __m512 second) {
      _mm512_storeu_si512(w.pt + j / 2 * kRows + r0, interleave_bf16(first, second));
    });
  }

  void accumulate(Work& w, const AttentionBlock&, int64_t item, int64_t k0, int64_t count, int64_t rows) const {
    const int64_t pairs = (count + 1) / 2;
    const uint32_t* v = values + (item * value_pairs + k0 / 2) * D;
    for (int64_t r0 = 0; r0 < rows; r0 += 8)
      for (int64_t d0 = 0; d0 < D; d0 += 32) {
        __m512 acc[8][2];
        start_outputs(w.acc, r0, d0, k0 == 0, acc);
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
        keep_outputs(w.acc, r0, d0, acc);
      }
  }
};
#endif  // __AVX512BF16__

// Asks for `rows` rows of `width` floats into the cache ahead of their use (`for_writing`: the
// output rows, owned before they are stored to).
inline void prefetch_rows(const float* first, int64_t rows, int64_t stride, int64_t width, bool for_writing) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < width; c += 16) {
      if (for_writing)
        __builtin_prefetch(first + r * stride + c, 1, 3);
      else
        __builtin_prefetch(first + r * stride + c, 0, 3);
    }
}

// The block loop both arithmetics share: per task (64 queries of one head of one batch item),
// key blocks of 64 through scores, online softmax and the value accumulation.
template <int64_t D, class Kernel>
void run_flash(const Kernel& kernel, const float* q, const float* k, const float* v, float* out,
               const AttentionShape& s) {
  using Work = typename Kernel::Work;
  const float scale = attention_scale(s) * std::numbers::log2e_v<float>;  // scores in base-2 units
  const int64_t offset = s.kv_len - s.q_len;  // causal: query i sees keys j <= i + offset
  const int64_t tasks = attention_block_count(s);
  const int64_t query_blocks = (s.q_len + kRows - 1) / kRows;

  // Runs of consecutive tasks per thread, so that a task can fetch the next one's queries.
  constexpr int64_t kRun = 4;
#pragma omp parallel for schedule(dynamic, kRun)
  for (int64_t task = 0; task < tasks; ++task) {
    const AttentionBlock block = attention_block(q, k, v, out, s, task);
    const int64_t item = task / query_blocks;  // batch x head
    Work& w = *reinterpret_cast<Work*>(thread_scratch<float>(3, sizeof(Work) / sizeof(float) + 1));
    Accumulators<D>& acc = w.acc;
    kernel.load_queries(w, block, scale);
    // The queries and output rows are strided rows far apart in memory: without these, a task
    // with few keys (cross-attention to 77 text tokens) waits on their misses.
    if ((task + 1) % kRun != 0 && task + 1 < tasks) {
      const AttentionBlock next = attention_block(q, k, v, out, s, task + 1);
      prefetch_rows(next.q, next.rows, s.q_stride, D, false);
    }
    prefetch_rows(block.out, block.rows, s.out_stride, D, true);
    std::fill(acc.max, acc.max + kRows, kMasked);
    std::fill(acc.sum, acc.sum + kRows, 0.0f);
    const int64_t active_rows = (block.rows + 7) / 8 * 8;

    alignas(64) int32_t visible[kRows];
    for (int64_t k0 = 0; k0 < block.keys; k0 += kKeys) {
      const int64_t count = std::min(kKeys, block.keys - k0);
      for (int64_t r = 0; r < kRows; ++r) {
        const int64_t seen = s.causal ? std::clamp<int64_t>(block.first_query + r + offset + 1 - k0, 0, count) : count;
        visible[r] = static_cast<int32_t>(seen);
      }
      std::fill(acc.block_max, acc.block_max + kRows, kMasked);
      kernel.scores(w, block, item, k0, count, visible);
      kernel.softmax(w, count);
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

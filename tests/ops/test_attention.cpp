#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>

#include "backends/cpu/attention.h"
#include "backends/cpu/attention_flash.h"
#include "reference_ops.h"
#include "test_support.h"

namespace sdxl::cpu {
namespace {

using test::all_close;
using test::random_floats;

struct AttentionCase {
  int64_t batch, heads, lq, lk, d;
  bool causal;
};

// Dense [B, L, H*D] rows for a case.
AttentionShape shape_of(const AttentionCase& c, Precision precision = Precision::F32) {
  AttentionShape s;
  s.batch = c.batch;
  s.heads = c.heads;
  s.q_len = c.lq;
  s.kv_len = c.lk;
  s.head_dim = c.d;
  s.q_stride = s.k_stride = s.v_stride = s.out_stride = c.heads * c.d;
  s.causal = c.causal;
  s.precision = precision;
  return s;
}

std::string case_name(const ::testing::TestParamInfo<AttentionCase>& info) {
  const auto& c = info.param;
  return "b" + std::to_string(c.batch) + "h" + std::to_string(c.heads) + "_q" + std::to_string(c.lq) + "_k" +
         std::to_string(c.lk) + "_d" + std::to_string(c.d) + (c.causal ? "_causal" : "");
}

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, MatchesReference) {
  const auto c = GetParam();
  const int64_t ch = c.heads * c.d;
  auto q = random_floats(static_cast<size_t>(c.batch * c.lq * ch), 1, -2.0f, 2.0f);
  auto k = random_floats(static_cast<size_t>(c.batch * c.lk * ch), 2, -2.0f, 2.0f);
  auto v = random_floats(static_cast<size_t>(c.batch * c.lk * ch), 3);
  std::vector<float> out(q.size());
  attention(q.data(), k.data(), v.data(), out.data(), shape_of(c));
  EXPECT_TRUE(all_close(out, reference::attention(q, k, v, c.batch, c.heads, c.lq, c.lk, c.d, c.causal), 2e-5, 2e-5));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionTest,
    ::testing::Values(AttentionCase{1, 1, 1, 1, 1, false},
                      AttentionCase{2, 4, 77, 77, 8, true},    // CLIP text encoder: causal
                      AttentionCase{2, 2, 77, 77, 16, true},
                      AttentionCase{2, 2, 64, 77, 16, false},  // UNet cross-attention on a tiny latent
                      AttentionCase{1, 3, 63, 63, 5, false},   // around the 64-row query block
                      AttentionCase{1, 3, 65, 65, 5, true},
                      AttentionCase{2, 5, 129, 33, 24, false},
                      AttentionCase{1, 2, 300, 300, 64, false},
                      // 64-dim heads take the flash-style kernel: causal, cross, partial blocks
                      AttentionCase{2, 3, 77, 77, 64, true},    // CLIP's heads
                      AttentionCase{2, 2, 130, 77, 64, false},  // UNet cross-attention to the text
                      AttentionCase{1, 2, 1, 1, 64, false},
                      AttentionCase{1, 1, 5, 200, 64, true},    // fewer queries than keys, causal
                      AttentionCase{2, 1, 129, 129, 64, true},
                      AttentionCase{1, 1, 64, 128, 64, false},
                      AttentionCase{1, 2, 9, 13, 64, false},    // fewer keys than a register block of 8
                      // 512-dim heads (the VAE's single-head attention) take it too
                      AttentionCase{1, 1, 70, 131, 512, false},
                      AttentionCase{2, 2, 64, 65, 512, true}),
    case_name);

// Scores in the hundreds: the running maximum must keep every exp finite, and a later key block
// with a larger maximum must rescale what the earlier blocks summed.
TEST(Attention, LargeScoresStayFinite) {
  for (const int64_t d : {int64_t{64}, int64_t{16}}) {
    const int64_t heads = 2, lq = 70, lk = 200, c = heads * d;
    auto q = random_floats(static_cast<size_t>(lq * c), 11, -12.0f, 12.0f);
    auto k = random_floats(static_cast<size_t>(lk * c), 12, -12.0f, 12.0f);
    for (int64_t i = 0; i < c; ++i) k[static_cast<size_t>((lk - 1) * c + i)] *= 3.0f;  // the last key dominates late
    auto v = random_floats(static_cast<size_t>(lk * c), 13);
    std::vector<float> out(q.size());
    AttentionShape s;
    s.heads = heads;
    s.q_len = lq;
    s.kv_len = lk;
    s.head_dim = d;
    s.q_stride = s.k_stride = s.v_stride = s.out_stride = c;
    attention(q.data(), k.data(), v.data(), out.data(), s);
    EXPECT_TRUE(all_close(out, reference::attention(q, k, v, 1, heads, lq, lk, d, false), 2e-5, 2e-5)) << d;
  }
}

TEST(Attention, StridedViewsOfAFusedProjection) {
  for (const int64_t d : {int64_t{6}, int64_t{64}}) {
    // q, k, v interleaved in one [B, L, 3C] buffer, output into a wider row: strides honoured.
    const int64_t b = 2, l = 70, heads = 2, c = heads * d;
    auto qkv = random_floats(static_cast<size_t>(b * l * 3 * c), 5);
    std::vector<float> q, k, v;
    for (int64_t r = 0; r < b * l; ++r)
      for (int64_t i = 0; i < c; ++i) {
        q.push_back(qkv[r * 3 * c + i]);
        k.push_back(qkv[r * 3 * c + c + i]);
        v.push_back(qkv[r * 3 * c + 2 * c + i]);
      }
    std::vector<float> out(static_cast<size_t>(b * l * 2 * c), 0.0f);
    AttentionShape s;
    s.batch = b;
    s.heads = heads;
    s.q_len = s.kv_len = l;
    s.head_dim = d;
    s.q_stride = s.k_stride = s.v_stride = 3 * c;
    s.out_stride = 2 * c;
    attention(qkv.data(), qkv.data() + c, qkv.data() + 2 * c, out.data(), s);
    auto want = reference::attention(q, k, v, b, heads, l, l, d, false);
    std::vector<float> got;
    for (int64_t r = 0; r < b * l; ++r)
      for (int64_t i = 0; i < c; ++i) got.push_back(out[r * 2 * c + i]);
    EXPECT_TRUE(all_close(got, want, 2e-5, 2e-5)) << d;
  }
}

// ---- bf16 ---------------------------------------------------------------------------------------

float bf16_rounded(float x) {  // round to nearest even, as vcvtne2ps2bf16
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits = (bits + 0x7FFFu + ((bits >> 16) & 1u)) & 0xFFFF0000u;
  std::memcpy(&x, &bits, 4);
  return x;
}

struct Bf16Inputs {
  std::vector<float> q, k, v;
  AttentionShape shape;
};

Bf16Inputs bf16_inputs(const AttentionCase& c, float range) {
  Bf16Inputs in;
  const int64_t ch = c.heads * c.d;
  in.q = random_floats(static_cast<size_t>(c.batch * c.lq * ch), 21, -range, range);
  in.k = random_floats(static_cast<size_t>(c.batch * c.lk * ch), 22, -range, range);
  in.v = random_floats(static_cast<size_t>(c.batch * c.lk * ch), 23);
  in.shape = shape_of(c, Precision::BF16);
  return in;
}

class AttentionBf16Test : public ::testing::TestWithParam<AttentionCase> {};

// The bf16 kernel against the exact attention of its rounded inputs (queries rounded after the
// softmax scale times log2(e), as the kernel does: its scores are in base-2 units): what is left
// is the probabilities' rounding to bf16, at most 2^-8 of the largest |v| (v in [-1, 1]). A
// misplaced pair or key is far larger.
TEST_P(AttentionBf16Test, MatchesReferenceOnRoundedInputs) {
  if (!attention_flash_bf16_built()) GTEST_SKIP() << "this build has no AVX512-BF16 kernel (attention runs f32)";
  const auto c = GetParam();
  Bf16Inputs in = bf16_inputs(c, 2.0f);
  std::vector<float> out(in.q.size());
  attention(in.q.data(), in.k.data(), in.v.data(), out.data(), in.shape);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.d)) * std::numbers::log2e_v<float>;
  std::vector<float> q = in.q, k = in.k, v = in.v;
  for (float& x : q) x = bf16_rounded(x * scale) / scale;
  for (float& x : k) x = bf16_rounded(x);
  for (float& x : v) x = bf16_rounded(x);
  EXPECT_TRUE(all_close(out, reference::attention(q, k, v, c.batch, c.heads, c.lq, c.lk, c.d, c.causal), 4e-3, 0));
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionBf16Test,
                         ::testing::Values(AttentionCase{1, 1, 1, 1, 64, false},
                                           AttentionCase{2, 3, 77, 77, 64, true},    // CLIP's heads
                                           AttentionCase{2, 2, 130, 77, 64, false},  // cross-attention
                                           AttentionCase{1, 1, 5, 200, 64, true},
                                           AttentionCase{1, 2, 129, 129, 64, true},
                                           AttentionCase{1, 1, 64, 65, 64, false},   // odd key count
                                           AttentionCase{1, 1, 70, 131, 512, false},
                                           AttentionCase{2, 1, 33, 64, 512, true}),
                         case_name);

// What bf16 costs against f32 on UNet-like inputs (scores of a few units, v in [-1, 1]): the
// bound docs/PERFORMANCE.md states. Inputs rounded to bf16 move scores by up to ~2^-8 of their
// size, so the error grows with the scores' spread.
TEST(AttentionBf16, ErrorAgainstF32IsBounded) {
  if (!attention_flash_bf16_built()) GTEST_SKIP() << "this build has no AVX512-BF16 kernel (attention runs f32)";
  for (const int64_t d : {int64_t{64}, int64_t{512}}) {
    const AttentionCase c{1, 2, 256, 300, d, false};
    Bf16Inputs in = bf16_inputs(c, d == 64 ? 2.0f : 0.7f);  // scores' spread ~1.3 in both
    std::vector<float> out(in.q.size());
    attention(in.q.data(), in.k.data(), in.v.data(), out.data(), in.shape);
    const auto exact = reference::attention(in.q, in.k, in.v, c.batch, c.heads, c.lq, c.lk, c.d, false);
    double worst = 0, mean = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(out[i] - exact[i])));
      mean += std::fabs(out[i] - exact[i]) / static_cast<double>(out.size());
    }
    EXPECT_LT(worst, 1e-2) << d;
    EXPECT_LT(mean, 2e-3) << d;
    std::printf("bf16 attention, d=%lld: max |error| %.2e, mean %.2e against f32\n", static_cast<long long>(d), worst,
                mean);
  }
}

}  // namespace
}  // namespace sdxl::cpu

#include <gtest/gtest.h>

#include "backends/cpu/attention.h"
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

class AttentionTest : public ::testing::TestWithParam<AttentionCase> {};

TEST_P(AttentionTest, MatchesReference) {
  const auto c = GetParam();
  const int64_t ch = c.heads * c.d;
  auto q = random_floats(static_cast<size_t>(c.batch * c.lq * ch), 1, -2.0f, 2.0f);
  auto k = random_floats(static_cast<size_t>(c.batch * c.lk * ch), 2, -2.0f, 2.0f);
  auto v = random_floats(static_cast<size_t>(c.batch * c.lk * ch), 3);
  std::vector<float> out(q.size());
  AttentionShape s;
  s.batch = c.batch;
  s.heads = c.heads;
  s.q_len = c.lq;
  s.kv_len = c.lk;
  s.head_dim = c.d;
  s.q_stride = s.k_stride = s.v_stride = s.out_stride = ch;
  s.causal = c.causal;
  attention(q.data(), k.data(), v.data(), out.data(), s);
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
                      AttentionCase{1, 1, 64, 128, 64, false}),
    [](const auto& info) {
      const auto& c = info.param;
      return "b" + std::to_string(c.batch) + "h" + std::to_string(c.heads) + "_q" + std::to_string(c.lq) + "_k" +
             std::to_string(c.lk) + "_d" + std::to_string(c.d) + (c.causal ? "_causal" : "");
    });

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

}  // namespace
}  // namespace sdxl::cpu

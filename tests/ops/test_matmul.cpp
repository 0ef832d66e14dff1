#include <gtest/gtest.h>

#include <tuple>

#include "backends/cpu/matmul.h"
#include "core/convert.h"
#include "reference_ops.h"
#include "test_support.h"

namespace sdxl::cpu {
namespace {

using test::all_close;
using test::random_floats;

struct LinearCase {
  int64_t m, n, k;
  bool bias;
};

class LinearTest : public ::testing::TestWithParam<std::tuple<LinearCase, GemmLibrary>> {};

TEST_P(LinearTest, MatchesReference) {
  auto [c, library] = GetParam();
  auto x = random_floats(static_cast<size_t>(c.m * c.k), 1);
  auto w = random_floats(static_cast<size_t>(c.n * c.k), 2);
  auto b = random_floats(static_cast<size_t>(c.n), 3);
  auto layer = PackedLinear::pack(w.data(), c.bias ? b.data() : nullptr, c.n, c.k, library, 64);
  std::vector<float> y(static_cast<size_t>(c.m * c.n), 123.0f);
  layer.forward(x.data(), c.m, y.data());
  auto want = reference::linear(x, w, c.bias ? b.data() : nullptr, c.m, c.n, c.k);
  EXPECT_TRUE(all_close(y, want, 1e-4, 1e-4));

  // accumulate: y += x W^T + b on top of a residual
  auto residual = random_floats(y.size(), 4);
  std::vector<float> acc = residual;
  layer.forward(x.data(), c.m, acc.data(), true);
  for (size_t i = 0; i < want.size(); ++i) want[i] += residual[i];
  EXPECT_TRUE(all_close(acc, want, 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearTest,
    ::testing::Combine(::testing::Values(LinearCase{1, 1, 1, true}, LinearCase{7, 13, 5, true},
                                         LinearCase{77, 32, 32, true}, LinearCase{154, 80, 33, false},
                                         LinearCase{130, 96, 257, true}, LinearCase{64, 640, 320, true},
                                         LinearCase{3, 1000, 17, false}),
                       ::testing::Values(GemmLibrary::OpenBlas, GemmLibrary::OneDnn)),
    [](const auto& info) {
      const auto& c = std::get<0>(info.param);
      return std::string(gemm_library_name(std::get<1>(info.param))) + "_" + std::to_string(c.m) + "x" +
             std::to_string(c.n) + "x" + std::to_string(c.k) + (c.bias ? "_bias" : "");
    });

TEST(Linear, OneDnnHandlesRowCountsOtherThanThePackedOne) {
  auto w = random_floats(48 * 40, 5);
  auto b = random_floats(48, 6);
  auto layer = PackedLinear::pack(w.data(), b.data(), 48, 40, GemmLibrary::OneDnn, 4096);
  for (int64_t m : {1, 9, 4096, 9}) {
    auto x = random_floats(static_cast<size_t>(m * 40), static_cast<uint32_t>(m));
    std::vector<float> y(static_cast<size_t>(m * 48));
    layer.forward(x.data(), m, y.data());
    EXPECT_TRUE(all_close(y, reference::linear(x, w, b.data(), m, 48, 40), 1e-4, 1e-4)) << "m=" << m;
  }
}

// Unpacking gives back exactly what was packed: f32 bit for bit with either library, bf16 as
// its rounded values, the bias only when there was one; and packing that again computes the same.
TEST(Linear, UnpackGivesBackThePackedWeights) {
  const int64_t n = 48, k = 40;
  auto w = random_floats(static_cast<size_t>(n * k), 11);
  auto b = random_floats(static_cast<size_t>(n), 12);
  for (GemmLibrary library : {GemmLibrary::OpenBlas, GemmLibrary::OneDnn})
    for (bool bias : {false, true}) {
      auto layer = PackedLinear::pack(w.data(), bias ? b.data() : nullptr, n, k, library, 64);
      std::vector<float> w2(w.size(), -1.0f), b2(b.size(), -1.0f);
      EXPECT_EQ(layer.unpack(w2.data(), b2.data()), bias);
      EXPECT_EQ(w2, w) << static_cast<int>(library);
      if (bias) EXPECT_EQ(b2, b);
      else EXPECT_EQ(b2, std::vector<float>(b.size(), -1.0f));  // untouched
    }
  auto bf16 = PackedLinear::pack(w.data(), b.data(), n, k, GemmLibrary::OneDnn, 64, MatmulPrecision::BF16);
  std::vector<float> w3(w.size()), b3(b.size());
  bf16.unpack(w3.data(), b3.data());
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w3[i], bf16_to_f32(f32_to_bf16(w[i]))) << i;
  EXPECT_EQ(b3, b);  // biases stay f32
  auto again = PackedLinear::pack(w3.data(), b3.data(), n, k, GemmLibrary::OneDnn, 64, MatmulPrecision::BF16);
  auto x = random_floats(static_cast<size_t>(5 * k), 13);
  std::vector<float> y1(static_cast<size_t>(5 * n)), y2(y1.size());
  bf16.forward(x.data(), 5, y1.data());
  again.forward(x.data(), 5, y2.data());
  EXPECT_EQ(y1, y2);
}

TEST(Linear, BorrowedWeightsMatchPacked) {
  auto w = random_floats(24 * 10, 7);
  auto x = random_floats(5 * 10, 8);
  auto layer = PackedLinear::borrow(w.data(), nullptr, 24, 10);
  std::vector<float> y(5 * 24);
  layer.forward(x.data(), 5, y.data());
  EXPECT_TRUE(all_close(y, reference::linear(x, w, nullptr, 5, 24, 10), 1e-5, 1e-5));
}

TEST(BatchedMatmul, StridedHeadsBothTranspositions) {
  // A[b] [M,K] taken from rows of stride 50, B[b] [N,K] (transposed) or [K,N].
  const int64_t batch = 5, m = 9, n = 11, k = 7, lda = 50;
  auto a = random_floats(static_cast<size_t>(batch * m * lda), 9);
  auto bt = random_floats(static_cast<size_t>(batch * n * k), 10);
  std::vector<float> c(static_cast<size_t>(batch * m * n));
  for (bool transpose : {true, false}) {
    batched_matmul(batch, m, n, k, a.data(), lda, m * lda, bt.data(), transpose ? k : n, n * k, transpose, c.data(), n,
                   m * n);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double acc = 0;
          for (int64_t p = 0; p < k; ++p) {
            float bv = transpose ? bt[b * n * k + j * k + p] : bt[b * n * k + p * n + j];
            acc += static_cast<double>(a[b * m * lda + i * lda + p]) * bv;
          }
          ASSERT_NEAR(c[(b * m + i) * n + j], acc, 1e-5) << "transpose=" << transpose;
        }
  }
}

}  // namespace
}  // namespace sdxl::cpu

namespace sdxl::cpu {
namespace {

std::vector<float> bf16_rounded(std::vector<float> v) {
  for (auto& x : v) x = bf16_to_f32(f32_to_bf16(x));
  return v;
}

TEST(LinearBf16, MatchesReferenceOnBf16RoundedOperands) {
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{7, 13, 5}, {77, 64, 320}, {130, 96, 257}}) {
    auto x = random_floats(static_cast<size_t>(m * k), 1);
    auto w = random_floats(static_cast<size_t>(n * k), 2);
    auto b = random_floats(static_cast<size_t>(n), 3);
    auto layer = PackedLinear::pack(w.data(), b.data(), n, k, GemmLibrary::OpenBlas, m, MatmulPrecision::BF16);
    EXPECT_EQ(layer.library(), GemmLibrary::OneDnn);
    std::vector<float> y(static_cast<size_t>(m * n));
    layer.forward(x.data(), m, y.data());
    // bf16 inputs and weights, f32 accumulation: the reference on rounded operands is close.
    auto want = reference::linear(bf16_rounded(x), bf16_rounded(w), b.data(), m, n, k);
    EXPECT_TRUE(all_close(y, want, 1e-4, 1e-4)) << m << "x" << n << "x" << k;
    auto exact = reference::linear(x, w, b.data(), m, n, k);
    EXPECT_FALSE(all_close(y, exact, 1e-6, 1e-6)) << "no bf16 rounding happened";
  }
}

}  // namespace
}  // namespace sdxl::cpu

#include <gtest/gtest.h>

#include <cmath>

#include "backends/cpu/activation.h"
#include "backends/cpu/softmax.h"
#include "reference_ops.h"
#include "test_support.h"

namespace sdxl::cpu {
namespace {

using test::all_close;
using test::random_floats;

// Inputs spanning where each function bends, saturates or under/overflows exp.
std::vector<float> activation_inputs(size_t n) {
  auto x = random_floats(n, 1, -12.0f, 12.0f);
  for (float v : {0.0f, -0.0f, 1e-8f, -1e-8f, 88.0f, -88.0f, 100.0f, -100.0f, 1e4f, -1e4f, 3.0f, -3.0f})
    x.push_back(v);
  return x;
}

template <typename Kernel, typename Ref>
void check(Kernel kernel, Ref ref, double atol, double rtol) {
  for (size_t n : {1u, 15u, 16u, 17u, 1000u, 70001u}) {
    auto x = activation_inputs(n);
    std::vector<float> y(x.size()), want(x.size());
    kernel(x.data(), y.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) want[i] = static_cast<float>(ref(static_cast<double>(x[i])));
    ASSERT_TRUE(all_close(y, want, atol, rtol)) << "n=" << n;
    kernel(x.data(), x.data(), static_cast<int64_t>(x.size()));  // in place
    ASSERT_TRUE(all_close(x, want, atol, rtol)) << "in place, n=" << n;
  }
}

TEST(Activation, Silu) { check(silu, reference::silu, 1e-6, 1e-6); }
TEST(Activation, GeluErf) {
  check(gelu_erf, [](double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); }, 2e-6, 2e-6);
}
TEST(Activation, GeluTanh) {
  check(gelu_tanh,
        [](double v) { return 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))); }, 2e-6,
        2e-6);
}
TEST(Activation, QuickGelu) { check(quick_gelu, [](double v) { return v / (1.0 + std::exp(-1.702 * v)); }, 1e-6, 1e-6); }
TEST(Activation, Relu) { check(relu, [](double v) { return v > 0 ? v : 0.0; }, 0, 0); }
TEST(Activation, LeakyRelu) { check(leaky_relu, [](double v) { return v > 0 ? v : static_cast<double>(static_cast<float>(v) * 0.2f); }, 0, 0); }

TEST(Activation, Geglu) {
  for (auto [rows, features] : {std::pair<int64_t, int64_t>{1, 1}, {5, 17}, {64, 40}, {3, 1280}}) {
    auto x = random_floats(static_cast<size_t>(rows * 2 * features), 3, -6.0f, 6.0f);
    std::vector<float> y(static_cast<size_t>(rows * features)), want(y.size());
    geglu(x.data(), y.data(), rows, features);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t f = 0; f < features; ++f) {
        double value = x[r * 2 * features + f], gate = x[r * 2 * features + features + f];
        want[r * features + f] = static_cast<float>(value * 0.5 * gate * (1.0 + std::erf(gate / std::sqrt(2.0))));
      }
    EXPECT_TRUE(all_close(y, want, 1e-5, 2e-6)) << rows << "x" << features;
  }
}

TEST(Softmax, MatchesReference) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{1, 1}, {3, 15}, {7, 77}, {64, 4096}, {2, 17}}) {
    auto x = random_floats(static_cast<size_t>(rows * cols), 4, -30.0f, 30.0f);
    std::vector<float> y(x.size());
    for (int64_t r = 0; r < rows; ++r) softmax_row(x.data() + r * cols, y.data() + r * cols, cols);
    EXPECT_TRUE(all_close(y, reference::softmax(x, rows, cols), 1e-7, 1e-5)) << rows << "x" << cols;
  }
}

TEST(Softmax, MaskedEntriesAndFullyMaskedRow) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> row = {1.0f, -inf, 2.0f, -inf};
  softmax_row(row.data(), row.data(), 4);
  EXPECT_EQ(row[1], 0.0f);
  EXPECT_NEAR(row[0] + row[2], 1.0f, 1e-6);
  std::vector<float> masked = {-inf, -inf, -inf};
  softmax_row(masked.data(), masked.data(), 3);
  for (float v : masked) EXPECT_EQ(v, 0.0f);  // zeros, not NaN
}

}  // namespace
}  // namespace sdxl::cpu

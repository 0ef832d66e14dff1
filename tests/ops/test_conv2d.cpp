#include <gtest/gtest.h>

#include "backends/cpu/conv2d.h"
#include "core/convert.h"
#include "reference_ops.h"
#include "test_support.h"

namespace sdxl::cpu {
namespace {

using test::all_close;
using test::random_floats;

struct ConvCase {
  int64_t batch, h, w, ci, co, k, stride, pt, pl, pb, pr;
  bool bias;
};

class Conv2dTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Conv2dTest, MatchesReference) {
  const ConvCase c = GetParam();
  Conv2dGeometry g;
  g.out_channels = c.co;
  g.in_channels = c.ci;
  g.kernel = c.k;
  g.stride = c.stride;
  g.pad_top = c.pt;
  g.pad_left = c.pl;
  g.pad_bottom = c.pb;
  g.pad_right = c.pr;
  auto x = random_floats(static_cast<size_t>(c.batch * c.h * c.w * c.ci), 1);
  auto w = random_floats(static_cast<size_t>(c.co * c.ci * c.k * c.k), 2);
  std::vector<float> b = c.bias ? random_floats(static_cast<size_t>(c.co), 3) : std::vector<float>{};
  auto conv = PackedConv2d::pack(w.data(), c.bias ? b.data() : nullptr, g, 16, 16);
  const int64_t oh = g.out_height(c.h), ow = g.out_width(c.w);
  std::vector<float> y(static_cast<size_t>(c.batch * oh * ow * c.co));
  conv.forward(x.data(), c.batch, c.h, c.w, y.data());
  auto want = reference::conv2d(x, w, b, c.batch, c.h, c.w, c.ci, c.co, c.k, c.stride, c.pt, c.pl, c.pb, c.pr);
  EXPECT_TRUE(all_close(y, want, 1e-4, 1e-4));

  // Fused residual: out = residual + conv(x).
  auto residual = random_floats(y.size(), 4);
  std::vector<float> acc = residual;
  conv.forward(x.data(), c.batch, c.h, c.w, acc.data(), true);
  for (size_t i = 0; i < want.size(); ++i) want[i] += residual[i];
  EXPECT_TRUE(all_close(acc, want, 1e-4, 1e-4));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Conv2dTest,
    ::testing::Values(ConvCase{1, 8, 8, 4, 32, 3, 1, 1, 1, 1, 1, true},      // UNet conv_in
                      ConvCase{2, 9, 7, 5, 7, 3, 1, 1, 1, 1, 1, true},       // odd sizes, batch 2
                      ConvCase{2, 16, 16, 32, 32, 3, 2, 1, 1, 1, 1, true},   // UNet downsampler
                      ConvCase{1, 11, 13, 3, 19, 3, 2, 1, 1, 1, 1, false},   // odd size, stride 2
                      ConvCase{1, 16, 16, 24, 24, 3, 2, 0, 0, 1, 1, true},   // VAE encoder downsampler
                      ConvCase{2, 6, 5, 40, 24, 1, 1, 0, 0, 0, 0, true},     // 1x1 shortcut
                      ConvCase{1, 4, 4, 17, 33, 1, 1, 0, 0, 0, 0, false}),
    [](const auto& info) {
      const auto& c = info.param;
      return "b" + std::to_string(c.batch) + "_" + std::to_string(c.h) + "x" + std::to_string(c.w) + "_" +
             std::to_string(c.ci) + "to" + std::to_string(c.co) + "_k" + std::to_string(c.k) + "s" +
             std::to_string(c.stride) + "_p" + std::to_string(c.pt) + std::to_string(c.pb);
    });

TEST(Conv2d, ReusesPackedWeightsAcrossInputSizes) {
  auto g = Conv2dGeometry::symmetric(16, 8, 3, 1, 1);
  auto w = random_floats(16 * 8 * 9, 5);
  auto b = random_floats(16, 6);
  auto conv = PackedConv2d::pack(w.data(), b.data(), g, 64, 64);
  for (auto [h, wd] : {std::pair<int64_t, int64_t>{5, 7}, {32, 32}, {5, 7}}) {
    auto x = random_floats(static_cast<size_t>(h * wd * 8), static_cast<uint32_t>(h));
    std::vector<float> y(static_cast<size_t>(h * wd * 16));
    conv.forward(x.data(), 1, h, wd, y.data());
    EXPECT_TRUE(all_close(y, reference::conv2d(x, w, b, 1, h, wd, 8, 16, 3, 1, 1, 1, 1, 1), 1e-4, 1e-4));
  }
}

}  // namespace
}  // namespace sdxl::cpu

namespace sdxl::cpu {
namespace {

// As for linears: the packed weights come back exactly (bf16: rounded), the bias when there is one.
TEST(Conv2d, UnpackGivesBackThePackedWeights) {
  const int64_t ci = 20, co = 24;
  auto g = Conv2dGeometry::symmetric(co, ci, 3, 1, 1);
  auto wt = random_floats(static_cast<size_t>(co * ci * 9), 21);
  auto b = random_floats(static_cast<size_t>(co), 22);
  for (bool bias : {false, true}) {
    auto conv = PackedConv2d::pack(wt.data(), bias ? b.data() : nullptr, g, 16, 16);
    std::vector<float> w2(wt.size(), -1.0f), b2(b.size(), -1.0f);
    EXPECT_EQ(conv.unpack(w2.data(), b2.data()), bias);
    EXPECT_EQ(w2, wt);
    if (bias) EXPECT_EQ(b2, b);
  }
  auto conv = PackedConv2d::pack(wt.data(), b.data(), g, 16, 16, MatmulPrecision::BF16);
  std::vector<float> w3(wt.size()), b3(b.size());
  conv.unpack(w3.data(), b3.data());
  for (size_t i = 0; i < wt.size(); ++i) ASSERT_EQ(w3[i], bf16_to_f32(f32_to_bf16(wt[i]))) << i;
  EXPECT_EQ(b3, b);
}

TEST(Conv2dBf16, MatchesReferenceOnBf16RoundedOperands) {
  auto round = [](std::vector<float> v) {
    for (auto& x : v) x = bf16_to_f32(f32_to_bf16(x));
    return v;
  };
  const int64_t h = 9, w = 7, ci = 20, co = 24;
  auto g = Conv2dGeometry::symmetric(co, ci, 3, 1, 1);
  auto x = random_floats(static_cast<size_t>(2 * h * w * ci), 1);
  auto wt = random_floats(static_cast<size_t>(co * ci * 9), 2);
  auto b = random_floats(static_cast<size_t>(co), 3);
  auto conv = PackedConv2d::pack(wt.data(), b.data(), g, h, w, MatmulPrecision::BF16);
  std::vector<float> y(static_cast<size_t>(2 * h * w * co));
  conv.forward(x.data(), 2, h, w, y.data());
  EXPECT_TRUE(all_close(y, reference::conv2d(round(x), round(wt), b, 2, h, w, ci, co, 3, 1, 1, 1, 1, 1), 1e-4, 1e-4));
  auto residual = random_floats(y.size(), 4);
  std::vector<float> acc = residual;
  conv.forward(x.data(), 2, h, w, acc.data(), true);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(acc[i], residual[i] + y[i], 1e-5);
}

}  // namespace
}  // namespace sdxl::cpu

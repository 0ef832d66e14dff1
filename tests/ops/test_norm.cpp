#include <gtest/gtest.h>

#include "backends/cpu/norm.h"
#include "reference_ops.h"
#include "test_support.h"

namespace sdxl::cpu {
namespace {

using test::all_close;
using test::random_floats;

struct GroupNormCase {
  int64_t batch, pixels, channels, groups;
  bool silu;
};

class GroupNormTest : public ::testing::TestWithParam<GroupNormCase> {};

TEST_P(GroupNormTest, MatchesReference) {
  const auto c = GetParam();
  // An offset mean makes a naive one-pass variance visibly wrong.
  auto x = random_floats(static_cast<size_t>(c.batch * c.pixels * c.channels), 1, 2.0f, 5.0f);
  auto gamma = random_floats(static_cast<size_t>(c.channels), 2);
  auto beta = random_floats(static_cast<size_t>(c.channels), 3);
  std::vector<float> y(x.size());
  group_norm_nhwc(x.data(), y.data(), c.batch, c.pixels, c.channels, c.groups, gamma.data(), beta.data(), 1e-5f, c.silu);
  auto want = reference::group_norm(x, c.batch, c.pixels, c.channels, c.groups, gamma, beta, 1e-5, c.silu);
  EXPECT_TRUE(all_close(y, want, 2e-5, 2e-5));
  // in place
  std::vector<float> z = x;
  group_norm_nhwc(z.data(), z.data(), c.batch, c.pixels, c.channels, c.groups, gamma.data(), beta.data(), 1e-5f, c.silu);
  EXPECT_TRUE(all_close(z, want, 2e-5, 2e-5));
}

INSTANTIATE_TEST_SUITE_P(Shapes, GroupNormTest,
                         ::testing::Values(GroupNormCase{1, 64, 32, 32, false}, GroupNormCase{2, 37, 64, 32, true},
                                           GroupNormCase{3, 5, 96, 32, false}, GroupNormCase{1, 1000, 40, 8, true},
                                           GroupNormCase{2, 3, 6, 3, false}, GroupNormCase{1, 4096, 64, 32, false}));

TEST(LayerNorm, MatchesReferenceOddSizes) {
  for (auto [rows, channels] : {std::pair<int64_t, int64_t>{1, 1}, {7, 33}, {154, 32}, {77, 1280}, {3, 17}}) {
    auto x = random_floats(static_cast<size_t>(rows * channels), 1, -3.0f, 7.0f);
    auto gamma = random_floats(static_cast<size_t>(channels), 2);
    auto beta = random_floats(static_cast<size_t>(channels), 3);
    std::vector<float> y(x.size());
    layer_norm(x.data(), y.data(), rows, channels, gamma.data(), beta.data(), 1e-5f);
    EXPECT_TRUE(all_close(y, reference::layer_norm(x, rows, channels, gamma, beta, 1e-5), 2e-5, 2e-5))
        << rows << "x" << channels;
  }
}

}  // namespace
}  // namespace sdxl::cpu

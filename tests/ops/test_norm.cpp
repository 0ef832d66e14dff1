#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

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
                                           GroupNormCase{2, 3, 6, 3, false}, GroupNormCase{1, 4096, 64, 32, false},
                                           // channel blocks of 128 and 16 in registers, and a scalar tail
                                           GroupNormCase{1, 300, 320, 32, true}, GroupNormCase{2, 70, 136, 8, false}));

// The two-step form (statistics of the image, applied to pieces of it) is the same computation.
TEST(GroupNormInSteps, StatisticsThenApplyEqualsGroupNorm) {
  const int64_t pixels = 777, channels = 96, groups = 32;
  auto x = random_floats(static_cast<size_t>(pixels * channels), 4, 2.0f, 5.0f);
  auto gamma = random_floats(static_cast<size_t>(channels), 5);
  auto beta = random_floats(static_cast<size_t>(channels), 6);
  std::vector<float> whole(x.size()), pieces(x.size());
  group_norm_nhwc(x.data(), whole.data(), 1, pixels, channels, groups, gamma.data(), beta.data(), 1e-6f, true);
  std::vector<double> mean(groups), rstd(groups);
  group_norm_statistics_nhwc(x.data(), pixels, channels, groups, 1e-6f, mean.data(), rstd.data());
  const int64_t cuts[] = {0, 100, 101, 700, pixels};  // uneven pieces, one of a single pixel
  for (int i = 0; i + 1 < 5; ++i)
    group_norm_apply_nhwc(x.data() + cuts[i] * channels, pieces.data() + cuts[i] * channels, cuts[i + 1] - cuts[i],
                          channels, groups, mean.data(), rstd.data(), gamma.data(), beta.data(), true);
  EXPECT_EQ(whole, pieces);
}

// Statistics gathered band by band (the image never whole) against the reference's, on data
// whose channel means are far from zero and differ (a plain one-pass variance loses digits).
TEST(GroupNormInSteps, MomentsGatheredByBandsMatchTheReference) {
  for (auto [pixels, channels, groups, offset] :
       {std::tuple<int64_t, int64_t, int64_t, float>{4096, 64, 32, 0.0f}, {1000, 40, 8, 300.0f}, {37, 6, 3, -50.0f},
        {5000, 128, 32, 1000.0f}}) {
    auto x = random_floats(static_cast<size_t>(pixels * channels), 7, -1.0f, 1.0f);
    for (int64_t i = 0; i < pixels * channels; ++i) x[i] += offset * static_cast<float>(1 + i % channels % 5);
    GroupMoments moments(channels, groups);
    for (int64_t p0 = 0; p0 < pixels;) {  // uneven bands
      const int64_t p1 = std::min(pixels, p0 + 1 + (p0 * 7919) % 613);
      moments.add(x.data() + p0 * channels, p1 - p0);
      p0 = p1;
    }
    EXPECT_EQ(moments.pixels(), pixels);
    std::vector<double> mean(groups), rstd(groups);
    moments.finish(1e-6f, mean.data(), rstd.data());
    // The reference: two passes in long double over the whole image.
    const int64_t per_group = channels / groups;
    for (int64_t g = 0; g < groups; ++g) {
      long double sum = 0, squares = 0;
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) sum += x[p * channels + c];
      const long double m = sum / (pixels * per_group);
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c)
          squares += (x[p * channels + c] - m) * (x[p * channels + c] - m);
      const double want_rstd = static_cast<double>(1.0L / std::sqrt(squares / (pixels * per_group) + 1e-6L));
      EXPECT_NEAR(mean[g], static_cast<double>(m), 1e-6 * (1.0 + std::fabs(static_cast<double>(m)))) << g;
      EXPECT_NEAR(rstd[g], want_rstd, 1e-5 * want_rstd) << "group " << g << " offset " << offset;
    }
  }
}

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

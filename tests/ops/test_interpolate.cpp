// torch-style interpolation against plain loops in double: each output pixel computed directly
// from the formulas in backends/cpu/interpolate.h (no separable passes), for enlarging and
// shrinking, every mode; and a hand-worked antialiased case.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "backends/cpu/interpolate.h"
#include "test_support.h"

namespace sdxl::cpu {
namespace {

// The taps of output index d along an axis of `in` -> `out`, straight from the formulas.
std::vector<std::pair<int64_t, double>> taps(int64_t d, int64_t in, int64_t out, InterpolateMode mode, bool aa) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  auto clamp = [&](int64_t i) { return std::min<int64_t>(std::max<int64_t>(i, 0), in - 1); };
  if (mode == InterpolateMode::Nearest) return {{std::min<int64_t>(static_cast<int64_t>(std::floor(d * scale)), in - 1), 1.0}};
  if (mode == InterpolateMode::NearestExact)
    return {{std::min<int64_t>(static_cast<int64_t>(std::floor((d + 0.5) * scale)), in - 1), 1.0}};
  if (aa) {
    const bool cubic = mode == InterpolateMode::Bicubic;
    const double f = std::max(scale, 1.0), centre = (d + 0.5) * scale, support = (cubic ? 2.0 : 1.0) * f;
    auto filter = [&](double x) {
      x = std::abs(x);
      if (!cubic) return std::max(0.0, 1.0 - x);
      const double a = -0.5;
      return x < 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0.0;
    };
    std::vector<std::pair<int64_t, double>> t;
    double total = 0;
    for (int64_t j = std::max<int64_t>(static_cast<int64_t>(centre - support + 0.5), 0);
         j < std::min<int64_t>(static_cast<int64_t>(centre + support + 0.5), in); ++j) {
      t.push_back({j, filter((j - centre + 0.5) / f)});
      total += t.back().second;
    }
    for (auto& [j, w] : t) w /= total;
    return t;
  }
  if (mode == InterpolateMode::Bilinear) {
    const double src = std::max(0.0, (d + 0.5) * scale - 0.5);
    const int64_t i = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    const double l = std::min(1.0, src - static_cast<double>(i));
    return {{i, 1 - l}, {std::min(i + 1, in - 1), l}};
  }
  const double src = (d + 0.5) * scale - 0.5, A = -0.75;
  const int64_t i = static_cast<int64_t>(std::floor(src));
  const double x = src - static_cast<double>(i);
  auto near = [&](double v) { return ((A + 2) * v - (A + 3)) * v * v + 1; };
  auto far = [&](double v) { return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A; };
  return {{clamp(i - 1), far(x + 1)}, {clamp(i), near(x)}, {clamp(i + 1), near(1 - x)}, {clamp(i + 2), far(2 - x)}};
}

TEST(Interpolate, EveryModeMatchesThePlainLoop) {
  const std::vector<std::pair<int64_t, int64_t>> sizes = {{8, 12}, {8, 10}, {12, 8}, {5, 5}, {7, 3}, {3, 16}};
  for (auto mode : {InterpolateMode::Nearest, InterpolateMode::NearestExact, InterpolateMode::Bilinear, InterpolateMode::Bicubic})
    for (bool aa : {false, true}) {
      if (aa && (mode == InterpolateMode::Nearest || mode == InterpolateMode::NearestExact)) continue;
      for (auto [in_h, out_h] : sizes)
        for (auto [in_w, out_w] : sizes) {
          const int64_t planes = 3;
          const auto x = test::random_floats(static_cast<size_t>(planes * in_h * in_w), 11, -2.0f, 2.0f);
          std::vector<float> y(static_cast<size_t>(planes * out_h * out_w)), want(y.size());
          interpolate_planes(x.data(), y.data(), planes, in_h, in_w, out_h, out_w, mode, aa);
          for (int64_t p = 0; p < planes; ++p)
            for (int64_t oy = 0; oy < out_h; ++oy)
              for (int64_t ox = 0; ox < out_w; ++ox) {
                double sum = 0;
                for (auto [iy, wy] : taps(oy, in_h, out_h, mode, aa))
                  for (auto [ix, wx] : taps(ox, in_w, out_w, mode, aa)) sum += wy * wx * x[static_cast<size_t>((p * in_h + iy) * in_w + ix)];
                want[static_cast<size_t>((p * out_h + oy) * out_w + ox)] = static_cast<float>(sum);
              }
          ASSERT_TRUE(test::all_close(y, want, 2e-5, 2e-5))
              << "mode " << static_cast<int>(mode) << " aa " << aa << " " << in_h << "x" << in_w << " -> " << out_h << "x" << out_w;
        }
    }
}

// Shrinking 4 -> 2 with the antialiased triangle: output 0's centre is 1.0, its support 2, so
// inputs 0, 1, 2 weigh 0.75, 0.75, 0.25 before normalising.
TEST(Interpolate, AntialiasedShrinkWidensTheFilter) {
  const std::vector<float> x = {1, 2, 3, 4};
  std::vector<float> y(2);
  interpolate_planes(x.data(), y.data(), 1, 1, 4, 1, 2, InterpolateMode::Bilinear, true);
  EXPECT_NEAR(y[0], (0.75 * 1 + 0.75 * 2 + 0.25 * 3) / 1.75, 1e-6);
  EXPECT_NEAR(y[1], (0.25 * 2 + 0.75 * 3 + 0.75 * 4) / 1.75, 1e-6);
  interpolate_planes(x.data(), y.data(), 1, 1, 4, 1, 2, InterpolateMode::Bilinear, false);  // plain: the midpoints
  EXPECT_NEAR(y[0], 1.5, 1e-6);
  EXPECT_NEAR(y[1], 3.5, 1e-6);
}

}  // namespace
}  // namespace sdxl::cpu

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "backends/cpu/elementwise.h"
#include "backends/cpu/resample.h"
#include "test_support.h"

namespace sdxl::cpu {
namespace {

using test::random_floats;

TEST(Upsample, Nearest2xNhwc) {
  const int64_t n = 2, h = 3, w = 5, c = 7;
  auto x = random_floats(static_cast<size_t>(n * h * w * c), 1);
  std::vector<float> y(static_cast<size_t>(n * 4 * h * w * c));
  upsample_nearest2x_nhwc(x.data(), y.data(), n, h, w, c);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t oy = 0; oy < 2 * h; ++oy)
      for (int64_t ox = 0; ox < 2 * w; ++ox)
        for (int64_t ch = 0; ch < c; ++ch)
          ASSERT_EQ(y[((b * 2 * h + oy) * 2 * w + ox) * c + ch], x[((b * h + oy / 2) * w + ox / 2) * c + ch]);
}

TEST(Resample, PixelUnshuffleAsTorch) {
  const int64_t n = 2, h = 6, w = 9, c = 2, r = 3;
  auto x = random_floats(static_cast<size_t>(n * h * w * c), 4);
  std::vector<float> y(x.size());
  pixel_unshuffle_nhwc(x.data(), y.data(), n, h, w, c, r);
  const int64_t oh = h / r, ow = w / r, oc = c * r * r;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t dy = 0; dy < r; ++dy)
        for (int64_t dx = 0; dx < r; ++dx)
          for (int64_t oy = 0; oy < oh; ++oy)
            for (int64_t ox = 0; ox < ow; ++ox)
              ASSERT_EQ(y[((b * oh + oy) * ow + ox) * oc + ch * r * r + dy * r + dx],
                        x[((b * h + oy * r + dy) * w + ox * r + dx) * c + ch]);
}

TEST(Resample, AvgPoolCeilModeDividesByTheWindowInside) {
  for (auto [h, w] : {std::pair<int64_t, int64_t>{4, 6}, {5, 7}, {1, 1}}) {
    const int64_t n = 2, c = 3, oh = (h + 1) / 2, ow = (w + 1) / 2;
    auto x = random_floats(static_cast<size_t>(n * h * w * c), 5);
    std::vector<float> y(static_cast<size_t>(n * oh * ow * c));
    avg_pool2x2_ceil_nhwc(x.data(), y.data(), n, h, w, c);
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox)
          for (int64_t ch = 0; ch < c; ++ch) {
            double sum = 0;
            int count = 0;
            for (int64_t sy = 2 * oy; sy < std::min(2 * oy + 2, h); ++sy)
              for (int64_t sx = 2 * ox; sx < std::min(2 * ox + 2, w); ++sx, ++count) sum += x[((b * h + sy) * w + sx) * c + ch];
            ASSERT_NEAR(y[((b * oh + oy) * ow + ox) * c + ch], sum / count, 1e-6) << h << "x" << w;
          }
  }
}

TEST(Elementwise, AddScale) {
  for (int64_t n : {1, 17, 40000}) {
    auto a = random_floats(static_cast<size_t>(n), 1);
    auto b = random_floats(static_cast<size_t>(n), 2);
    std::vector<float> s(a.size()), q(a.size());
    add(a.data(), b.data(), s.data(), n);
    scale(a.data(), -0.5f, q.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(s[i], a[i] + b[i]);
      ASSERT_EQ(q[i], a[i] * -0.5f);
    }
  }
}

TEST(Elementwise, BroadcastOverMiddleAxis) {
  const int64_t outer = 2, middle = 37, inner = 19;
  auto a = random_floats(static_cast<size_t>(outer * middle * inner), 3);
  auto b = random_floats(static_cast<size_t>(outer * inner), 4);
  std::vector<float> s(a.size()), p(a.size());
  add_broadcast(a.data(), b.data(), s.data(), outer, middle, inner);
  mul_broadcast(a.data(), b.data(), p.data(), outer, middle, inner);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t m = 0; m < middle; ++m)
      for (int64_t i = 0; i < inner; ++i) {
        size_t at = static_cast<size_t>((o * middle + m) * inner + i);
        ASSERT_EQ(s[at], a[at] + b[o * inner + i]);
        ASSERT_EQ(p[at], a[at] * b[o * inner + i]);
      }
}

TEST(Elementwise, ConcatLastAxis) {
  const int64_t rows = 23, ca = 5, cb = 12;
  auto a = random_floats(static_cast<size_t>(rows * ca), 5);
  auto b = random_floats(static_cast<size_t>(rows * cb), 6);
  std::vector<float> y(static_cast<size_t>(rows * (ca + cb)));
  concat_last(a.data(), ca, b.data(), cb, y.data(), rows);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < ca; ++i) ASSERT_EQ(y[r * (ca + cb) + i], a[r * ca + i]);
    for (int64_t i = 0; i < cb; ++i) ASSERT_EQ(y[r * (ca + cb) + ca + i], b[r * cb + i]);
  }
}

}  // namespace
}  // namespace sdxl::cpu

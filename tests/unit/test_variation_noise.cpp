// AUTOMATIC1111's seed resize: the noise of another size put at the centre, as its ImageRNG
// indexes it (x[:, ty:ty+h, tx:tx+w] = noise[:, dy:dy+h, dx:dx+w] with Python's floor division),
// written out here with plain loops for a larger and a smaller source, odd differences included.
#include <gtest/gtest.h>

#include "core/error.h"
#include "pipeline/stages/variation_noise.h"

namespace sdxl {
namespace {

Tensor numbered(int64_t c, int64_t h, int64_t w, float base) {
  Tensor t = Tensor::empty(Shape{1, c, h, w}, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = base + static_cast<float>(i);
  return t;
}

int64_t py_floordiv2(int64_t v) { return v >= 0 ? v / 2 : (v - 1) / 2; }

void check_against_a1111(int64_t H, int64_t W, int64_t h, int64_t w) {
  SCOPED_TRACE(std::to_string(H) + "x" + std::to_string(W) + " from " + std::to_string(h) + "x" + std::to_string(w));
  Tensor noise = numbered(2, H, W, 0.0f);
  const Tensor from = numbered(2, h, w, 1000.0f);
  Tensor want = noise.clone();
  int64_t dx = py_floordiv2(W - w), dy = py_floordiv2(H - h);
  const int64_t ww = dx >= 0 ? w : w + 2 * dx, hh = dy >= 0 ? h : h + 2 * dy;
  const int64_t tx = dx < 0 ? 0 : dx, ty = dy < 0 ? 0 : dy;
  dx = std::max<int64_t>(-dx, 0);
  dy = std::max<int64_t>(-dy, 0);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t y = 0; y < hh; ++y)
      for (int64_t x = 0; x < ww; ++x)
        want.data<float>()[(c * H + ty + y) * W + tx + x] = from.data<float>()[(c * h + dy + y) * w + dx + x];
  pipeline::place_centered(noise, from);
  for (int64_t i = 0; i < want.numel(); ++i) ASSERT_EQ(noise.data<float>()[i], want.data<float>()[i]) << i;
}

TEST(SeedResize, PlacesTheNoiseAtTheCentreAsAutomatic1111) {
  check_against_a1111(8, 12, 8, 12);  // the same size: replaced whole
  check_against_a1111(8, 12, 5, 7);   // smaller, odd differences
  check_against_a1111(8, 12, 11, 15); // larger: its middle, odd differences (floor of a negative half)
  check_against_a1111(8, 12, 4, 20);  // smaller one way, larger the other
}

TEST(SeedResize, MismatchedBatchesAreRefused) {
  Tensor noise = numbered(2, 4, 4, 0.0f);
  EXPECT_THROW(pipeline::place_centered(noise, numbered(3, 4, 4, 0.0f)), Error);
}

}  // namespace
}  // namespace sdxl

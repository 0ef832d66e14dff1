// ResnetBlock2D run a band of rows at a time (the VAE's --vae-tiling) against the whole-image
// forward: with x held whole or computed per reading, with and without the 1x1 shortcut, in
// place (h recomputed or kept whole), for band heights that split the image evenly, unevenly and into single rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "models/common/conv_layers.h"
#include "models/common/weights.h"

namespace sdxl::models {
namespace {

Tensor normal(const Shape& shape, uint32_t seed, float mean) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(mean, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

// An x that is not held whole: each reading copies the rows asked for (and counts itself).
class CopiedRows final : public RowSource {
 public:
  explicit CopiedRows(const Tensor& image) : image_(image) {}
  Shape shape() const override { return image_.shape(); }
  Tensor rows(Arena& arena, RowRange range) const override {
    ++readings;
    const Tensor view = rows_of(image_, range);
    Tensor copy = Tensor::in_arena(arena, view.shape(), DType::F32);
    std::memcpy(copy.raw(), view.raw(), view.nbytes());
    return copy;
  }
  mutable int readings = 0;

 private:
  const Tensor& image_;
};

double worst_difference(const Tensor& a, const Tensor& b) {
  double worst = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    worst = std::max(worst, static_cast<double>(std::fabs(a.data<float>()[i] - b.data<float>()[i])));
  return worst;
}

TEST(ResnetInBands, EqualsTheWholeImageForward) {
  for (const auto& [in_channels, out_channels] : {std::pair<int64_t, int64_t>{32, 32}, {64, 32}}) {
    RandomWeights weights(5, 0.2f);
    const auto block = ResnetBlock2D::bind(weights, "r", in_channels, out_channels, 0, /*groups=*/8, 1e-6f);
    // Offset means: the band-gathered statistics must not lose digits to them.
    const Tensor x = normal(Shape{1, 13, 9, in_channels}, 1, 3.0f);
    Arena arena, bands;
    const Tensor want = block(arena, x, nullptr).clone();
    for (const int64_t band_rows : {1, 2, 4, 5, 13, 20}) {
      SCOPED_TRACE(::testing::Message() << in_channels << "->" << out_channels << ", bands of " << band_rows);
      arena.reset();
      EXPECT_LE(worst_difference(block.forward_in_bands(arena, bands, WholeImage(x), band_rows), want), 2e-5);
      const CopiedRows computed(x);
      EXPECT_LE(worst_difference(block.forward_in_bands(arena, bands, computed, band_rows), want), 2e-5);
      const int64_t band_count = (13 + band_rows - 1) / band_rows;
      EXPECT_EQ(computed.readings, 3 * band_count);  // statistics, the shortcut with h's, the output
      if (block.can_run_in_place(band_rows)) {
        Tensor over = x.clone();
        block.forward_in_bands_in_place(bands, over, band_rows);
        EXPECT_LE(worst_difference(over, want), 2e-5);
      }
      if (in_channels == out_channels) {  // in place, h kept whole: any band height
        Tensor over = x.clone(), hidden = Tensor::empty(x.shape(), DType::F32);
        block.forward_in_bands_in_place(bands, over, band_rows, &hidden);
        EXPECT_LE(worst_difference(over, want), 2e-5);
      }
    }
    EXPECT_GT(worst_difference(want, normal(Shape{1, 13, 9, out_channels}, 1, 3.0f)), 0.1);  // it did something
  }
  RandomWeights weights(5, 0.2f);
  EXPECT_FALSE(ResnetBlock2D::bind(weights, "r", 64, 32, 0, 8, 1e-6f).can_run_in_place(4));
  EXPECT_FALSE(ResnetBlock2D::bind(weights, "r", 32, 32, 0, 8, 1e-6f).can_run_in_place(1));
}

}  // namespace
}  // namespace sdxl::models

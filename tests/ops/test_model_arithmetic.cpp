// The models' small arithmetic behind ops (what a forward pass does between layers), each
// against a plain loop: the ops a second backend implements so that no model touches memory.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops.h"
#include "random_tensor.h"
#include "test_support.h"

namespace sdxl {
namespace {

TEST(ModelArithmetic, SliceRowsIsAViewOfTheSameMemory) {
  Tensor x = test::random_tensor(Shape{5, 3, 2}, 1);
  Tensor rows = x.slice_rows(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{3, 3, 2}));
  EXPECT_EQ(rows.data<float>(), x.data<float>() + 6);
  rows.data<float>()[0] = 42.0f;
  EXPECT_EQ(x.data<float>()[6], 42.0f);
  EXPECT_EQ(x.slice_rows(5, 0).numel(), 0);
  EXPECT_THROW(x.slice_rows(4, 2), Error);
  EXPECT_THROW(x.slice_rows(-1, 1), Error);
}

TEST(ModelArithmetic, AddToEachItem) {
  Tensor x = test::random_tensor(Shape{3, 4, 5}, 2);
  const Tensor t = test::random_tensor(Shape{4, 5}, 3);
  const Tensor before = x.clone();
  ops::add_to_each_inplace(x, t);
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t i = 0; i < 20; ++i) ASSERT_EQ(x.data<float>()[n * 20 + i], before.data<float>()[n * 20 + i] + t.data<float>()[i]);
  Tensor wrong = test::random_tensor(Shape{5, 4}, 4);
  EXPECT_THROW(ops::add_to_each_inplace(x, wrong), Error);
}

TEST(ModelArithmetic, WriteRowsAndCopyInto) {
  Tensor x = test::random_tensor(Shape{6, 7}, 5);
  const Tensor rows = test::random_tensor(Shape{2, 7}, 6);
  const Tensor before = x.clone();
  ops::write_rows(x, 3, rows);
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t c = 0; c < 7; ++c)
      ASSERT_EQ(x.data<float>()[r * 7 + c], r == 3 || r == 4 ? rows.data<float>()[(r - 3) * 7 + c] : before.data<float>()[r * 7 + c]);
  EXPECT_THROW(ops::write_rows(x, 5, rows), Error);  // past the end
  Tensor target = Tensor::zeros(Shape{7, 6}, DType::F32);
  ops::copy_into(x, target);
  for (int64_t i = 0; i < 42; ++i) ASSERT_EQ(target.data<float>()[i], x.data<float>()[i]);
  Tensor small = Tensor::zeros(Shape{41}, DType::F32);
  EXPECT_THROW(ops::copy_into(x, small), Error);
}

TEST(ModelArithmetic, WriteBandIntoAnNchwImage) {
  const int64_t n = 2, c = 3, h = 8, w = 5, rows = 3, first = 4;
  Tensor image = test::random_tensor(Shape{n, c, h, w}, 7);
  const Tensor band = test::random_tensor(Shape{c, rows, w}, 8);
  const Tensor before = image.clone();
  ops::write_band(image, 1, first, band);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const int64_t at = ((b * c + ch) * h + y) * w + x;
          const bool inside = b == 1 && y >= first && y < first + rows;
          ASSERT_EQ(image.data<float>()[at], inside ? band.data<float>()[(ch * rows + y - first) * w + x] : before.data<float>()[at]);
        }
  EXPECT_THROW(ops::write_band(image, 1, 6, band), Error);
}

TEST(ModelArithmetic, TimestepEmbeddingIsDiffusersFormula) {
  Arena arena;
  const Tensor values = test::random_tensor(Shape{3}, 9, 0.0f, 999.0f);
  for (bool flip : {false, true})
    for (int64_t dim : {8, 9}) {
      const Tensor y = ops::timestep_embedding(arena, values, dim, flip, 1.0f);
      ASSERT_EQ(y.shape(), (Shape{3, dim}));
      const int64_t half = dim / 2;
      for (int64_t r = 0; r < 3; ++r) {
        for (int64_t i = 0; i < half; ++i) {
          const float frequency = std::exp(static_cast<float>(-std::log(10000.0)) * static_cast<float>(i) / (static_cast<float>(half) - 1.0f));
          const float arg = values.data<float>()[r] * frequency;
          ASSERT_EQ(y.data<float>()[r * dim + (flip ? half + i : i)], std::sin(arg));
          ASSERT_EQ(y.data<float>()[r * dim + (flip ? i : half + i)], std::cos(arg));
        }
        if (dim % 2) ASSERT_EQ(y.data<float>()[r * dim + dim - 1], 0.0f);
      }
    }
  const Tensor filled = ops::full(arena, Shape{4}, 2.5f);
  for (int64_t i = 0; i < 4; ++i) ASSERT_EQ(filled.data<float>()[i], 2.5f);
}

TEST(ModelArithmetic, ScaleShiftAndSoftClamp) {
  for (int64_t size : {5, 70000}) {
    const Tensor x = test::random_tensor(Shape{size}, 10, -20.0f, 20.0f);
    Tensor y = Tensor::zeros(x.shape(), DType::F32);
    ops::scale_shift(x, 0.5f, 0.25f, y);
    Tensor z = x.clone();
    ops::soft_clamp_inplace(z, 3.0f);
    for (int64_t i = 0; i < size; ++i) {
      ASSERT_EQ(y.data<float>()[i], x.data<float>()[i] * 0.5f + 0.25f);
      ASSERT_FLOAT_EQ(z.data<float>()[i], std::tanh(x.data<float>()[i] / 3.0f) * 3.0f);
    }
  }
}

TEST(ModelArithmetic, DiagonalGaussianAsDiffusers) {
  const int64_t n = 2, c = 4, h = 3, w = 5, plane = c * h * w;
  const Tensor moments = test::random_tensor(Shape{n, 2 * c, h, w}, 11, -40.0f, 40.0f);
  Tensor mean = Tensor::zeros(Shape{n, c, h, w}, DType::F32), logvar = mean.clone(), std = mean.clone();
  ops::diagonal_gaussian(moments, mean, logvar, std);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < plane; ++i) {
      const float m = moments.data<float>()[b * 2 * plane + i];
      const float v = std::clamp(moments.data<float>()[b * 2 * plane + plane + i], -30.0f, 20.0f);
      ASSERT_EQ(mean.data<float>()[b * plane + i], m);
      ASSERT_EQ(logvar.data<float>()[b * plane + i], v);
      ASSERT_EQ(std.data<float>()[b * plane + i], std::exp(0.5f * v));
    }
  Tensor odd = Tensor::zeros(Shape{n, 3, h, w}, DType::F32);
  EXPECT_THROW(ops::diagonal_gaussian(odd, mean, logvar, std), Error);
}

}  // namespace
}  // namespace sdxl

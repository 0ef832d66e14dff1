// A seeded random f32 tensor (test_support.h's random_floats in a Tensor of `shape`).
#pragma once

#include <algorithm>

#include "core/tensor.h"
#include "test_support.h"

namespace sdxl::test {

inline Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  const auto v = random_floats(static_cast<size_t>(shape.numel()), seed, lo, hi);
  Tensor t = Tensor::empty(shape, DType::F32);
  std::copy(v.begin(), v.end(), t.data<float>());
  return t;
}

}  // namespace sdxl::test

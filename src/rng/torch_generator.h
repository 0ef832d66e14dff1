// torch.Generator("cpu") and torch.randn on it, reproduced: MT19937 seeded with the low 32 bits
// of manual_seed(seed), 24-bit uniform floats, and torch's two normal algorithms:
//   - 16 or more contiguous float32 values (normal_fill): all uniforms drawn first, then
//     Box-Muller over blocks of 16 (8 pairs), the tail block recomputed from fresh uniforms;
//     float math as torch's AVX2 kernel computes it (avx_mathfun's log and sincos);
//   - fewer than 16: one double-precision Box-Muller pair per two values, the second value
//     cached in the generator for the next call.
#pragma once

#include <cstdint>
#include <optional>
#include <random>

#include "core/tensor.h"

namespace sdxl::rng {

class TorchGenerator {
 public:
  explicit TorchGenerator(uint64_t seed);

  uint32_t random() { return static_cast<uint32_t>(engine_()); }
  uint64_t random64();

  // torch.randn(shape, generator=this) as float32, continuing this generator's stream.
  Tensor randn(const Shape& shape);
  void randn(float* out, int64_t count);

 private:
  float uniform_float();    // [0, 1) with 24 random bits
  double uniform_double();  // [0, 1) with 53 random bits
  double normal_double();   // at::normal_distribution<double>, with its cached second value

  std::mt19937 engine_;
  std::optional<double> next_double_normal_;
};

}  // namespace sdxl::rng

#include "rng/torch_generator.h"

#include <cmath>

#include "core/error.h"
#include "rng/box_muller_avx2.h"

namespace sdxl::rng {

TorchGenerator::TorchGenerator(uint64_t seed) : engine_(static_cast<uint32_t>(seed & 0xffffffffu)) {}

uint64_t TorchGenerator::random64() {
  const uint64_t high = random();
  const uint64_t low = random();
  return (high << 32) | low;
}

float TorchGenerator::uniform_float() {
  return static_cast<float>(random() & ((1u << 24) - 1)) * (1.0f / static_cast<float>(1u << 24));
}

double TorchGenerator::uniform_double() {
  return static_cast<double>(random64() & ((uint64_t{1} << 53) - 1)) * (1.0 / static_cast<double>(uint64_t{1} << 53));
}

double TorchGenerator::normal_double() {
  if (next_double_normal_) {
    const double cached = *next_double_normal_;
    next_double_normal_.reset();
    return cached;
  }
  const double u1 = uniform_double();
  const double u2 = uniform_double();
  const double r = std::sqrt(-2.0 * std::log(1.0 - u2));
  const double theta = 2.0 * M_PI * u1;
  next_double_normal_ = r * std::sin(theta);
  return r * std::cos(theta);
}

void TorchGenerator::randn(float* out, int64_t count) {
  SDXL_CHECK(count >= 0, InvalidArgument, "[rng] negative count");
  if (count < 16) {
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<float>(normal_double());
    return;
  }
  for (int64_t i = 0; i < count; ++i) out[i] = uniform_float();
  for (int64_t i = 0; i + 16 <= count; i += 16) normal_fill_16(out + i);
  if (count % 16 != 0) {
    // torch recomputes the last 16 values from fresh uniforms
    float* tail = out + count - 16;
    for (int i = 0; i < 16; ++i) tail[i] = uniform_float();
    normal_fill_16(tail);
  }
}

Tensor TorchGenerator::randn(const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  randn(t.data<float>(), t.numel());
  return t;
}

}  // namespace sdxl::rng

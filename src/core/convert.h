// Exact f16 / bf16 <-> f32 conversion, as torch converts: round to nearest even, subnormals
// kept, infinities kept, NaN -> the canonical quiet NaN (f16: sign kept, 0x7E00; bf16: 0x7FC0).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"

namespace sdxl {

inline uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Scalar conversions: the reference the vectorised loops are tested against.
uint16_t f32_to_f16(float value);
float f16_to_f32(uint16_t half);
uint16_t f32_to_bf16(float value);
inline float bf16_to_f32(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

// Vectorised array conversions (AVX-512 where built for it), multi-threaded for large arrays.
void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n);
void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n);
void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n);
void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n);

// Dispatch on the float dtype of the other side.
void convert_to_f32(const void* src, DType src_dtype, float* dst, size_t n);
void convert_from_f32(const float* src, void* dst, DType dst_dtype, size_t n);

}  // namespace sdxl

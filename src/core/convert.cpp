#include "core/convert.h"

#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#include <immintrin.h>
#define SDXL_CONVERT_AVX512 1
#endif

namespace sdxl {
namespace {

// Below this many elements a thread team costs more than it saves.
constexpr size_t kParallelThreshold = 1 << 16;

template <typename Body>
void for_blocks(size_t n, Body body) {
  constexpr size_t kBlock = 4096;
  const long blocks = static_cast<long>((n + kBlock - 1) / kBlock);
  parallel_for(blocks, n >= kParallelThreshold, [&](int64_t b) {
    size_t begin = static_cast<size_t>(b) * kBlock;
    size_t end = begin + kBlock < n ? begin + kBlock : n;
    body(begin, end);
  });
}

}  // namespace

uint16_t f32_to_f16(float value) {
  uint32_t u = float_bits(value);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u;   // NaN: torch returns the canonical quiet NaN
  if (a >= 0x477FF000u) return sign | 0x7C00u;  // rounds past 65504: infinity
  if (a < 0x38800000u) {
    // Subnormal (or zero) in f16: scaling by 2^24 is exact, rint rounds half to even.
    float scaled = std::fabs(value) * 16777216.0f;
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  a += 0xFFFu + ((a >> 13) & 1u);  // round to nearest even on the 13 dropped bits
  return sign | static_cast<uint16_t>((a - 0x38000000u) >> 13);
}

float f16_to_f32(uint16_t half) {
  uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  uint32_t exponent = (half >> 10) & 0x1Fu;
  uint32_t mantissa = half & 0x3FFu;
  if (exponent == 0) {
    float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return bits_float(sign | float_bits(magnitude));
  }
  if (exponent == 31) {
    uint32_t quiet = mantissa ? 0x400000u : 0u;  // a signalling NaN comes back quiet, as in torch
    return bits_float(sign | 0x7F800000u | (mantissa << 13) | quiet);
  }
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

uint16_t f32_to_bf16(float value) {
  if (std::isnan(value)) return 0x7FC0u;  // torch drops the sign of NaN here
  uint32_t u = float_bits(value);
  u += 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

void convert_f32_to_f16(const float* src, uint16_t* dst, size_t n) {
  for_blocks(n, [&](size_t begin, size_t end) {
    size_t i = begin;
#ifdef SDXL_CONVERT_AVX512
    const __m512i sign_mask = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    const __m256i quiet_nan = _mm256_set1_epi16(0x7E00);
    for (; i + 16 <= end; i += 16) {
      __m512 x = _mm512_loadu_ps(src + i);
      __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
      if (nan) {
        __m512i sign = _mm512_srli_epi32(_mm512_and_si512(_mm512_castps_si512(x), sign_mask), 16);
        __m256i fixed = _mm256_or_si256(_mm512_cvtepi32_epi16(sign), quiet_nan);
        h = _mm256_mask_mov_epi16(h, nan, fixed);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
    }
#endif
    for (; i < end; ++i) dst[i] = f32_to_f16(src[i]);
  });
}

void convert_f16_to_f32(const uint16_t* src, float* dst, size_t n) {
  for_blocks(n, [&](size_t begin, size_t end) {
    size_t i = begin;
#ifdef SDXL_CONVERT_AVX512
    for (; i + 16 <= end; i += 16)
      _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
#endif
    for (; i < end; ++i) dst[i] = f16_to_f32(src[i]);
  });
}

void convert_f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  for_blocks(n, [&](size_t begin, size_t end) {
    size_t i = begin;
#ifdef SDXL_CONVERT_AVX512
    const __m512i bias = _mm512_set1_epi32(0x7FFF);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i canonical_nan = _mm512_set1_epi32(0x7FC0);
    for (; i + 16 <= end; i += 16) {
      __m512 x = _mm512_loadu_ps(src + i);
      __m512i u = _mm512_castps_si512(x);
      __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
      __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(bias, lsb)), 16);
      rounded = _mm512_mask_mov_epi32(rounded, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), canonical_nan);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(rounded));
    }
#endif
    for (; i < end; ++i) dst[i] = f32_to_bf16(src[i]);
  });
}

void convert_bf16_to_f32(const uint16_t* src, float* dst, size_t n) {
  for_blocks(n, [&](size_t begin, size_t end) {
    size_t i = begin;
#ifdef SDXL_CONVERT_AVX512
    for (; i + 16 <= end; i += 16) {
      __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
      _mm512_storeu_si512(dst + i, _mm512_slli_epi32(w, 16));
    }
#endif
    for (; i < end; ++i) dst[i] = bf16_to_f32(src[i]);
  });
}

void convert_to_f32(const void* src, DType src_dtype, float* dst, size_t n) {
  switch (src_dtype) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::F16: convert_f16_to_f32(static_cast<const uint16_t*>(src), dst, n); return;
    case DType::BF16: convert_bf16_to_f32(static_cast<const uint16_t*>(src), dst, n); return;
    default: fail(ErrorCode::Unsupported, "[convert] ", dtype_name(src_dtype), " is not a float type");
  }
}

void convert_from_f32(const float* src, void* dst, DType dst_dtype, size_t n) {
  switch (dst_dtype) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::F16: convert_f32_to_f16(src, static_cast<uint16_t*>(dst), n); return;
    case DType::BF16: convert_f32_to_bf16(src, static_cast<uint16_t*>(dst), n); return;
    default: fail(ErrorCode::Unsupported, "[convert] ", dtype_name(dst_dtype), " is not a float type");
  }
}

}  // namespace sdxl

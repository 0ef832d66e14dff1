// Vector transcendental functions for the element-wise kernels: AVX-512 where built for it,
// with scalar twins used for loop tails and in portable builds. Accuracy (tested in
// tests/ops/test_activation.cpp): exp within 2 ulp; erf within 2e-7 absolute.
#pragma once

#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#define SDXL_CPU_AVX512 1
#endif

namespace sdxl::cpu {

// erf by Abramowitz & Stegun 7.1.26 rearranged: 1 - poly(t) * exp(-x^2), t = 1 / (1 + p|x|).
// Absolute error below 1.5e-7, which is float rounding level for the GELU it feeds.
struct ErfCoefficients {
  static constexpr float p = 0.3275911f;
  static constexpr float a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f, a4 = -1.453152027f,
                         a5 = 1.061405429f;
};

inline float erf_scalar(float x) {
  using C = ErfCoefficients;
  float ax = std::fabs(x);
  float t = 1.0f / (1.0f + C::p * ax);
  float poly = ((((C::a5 * t + C::a4) * t + C::a3) * t + C::a2) * t + C::a1) * t;
  float y = 1.0f - poly * std::exp(-ax * ax);
  return std::copysign(y, x);
}

#ifdef SDXL_CPU_AVX512
// e^x: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial (error below
// 1e-8 relative), then scaled by 2^n with vscalefps, which also handles underflow to zero.
inline __m512 exp512(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693359375f);
  const __m512 ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
  x = _mm512_min_ps(x, _mm512_set1_ps(88.7228f));
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
  r = _mm512_fnmadd_ps(n, ln2_lo, r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

inline __m512 sigmoid512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

inline __m512 erf512(__m512 x) {
  using C = ErfCoefficients;
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 ax = _mm512_abs_ps(x);
  __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(C::p), ax, one));
  __m512 poly = _mm512_set1_ps(C::a5);
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(C::a4));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(C::a3));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(C::a2));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(C::a1));
  poly = _mm512_mul_ps(poly, t);
  __m512 e = exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), ax), ax));
  __m512 y = _mm512_fnmadd_ps(poly, e, one);
  // copysign: take the sign bit of x
  const __m512i sign_bit = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(y),
                                             _mm512_and_si512(_mm512_castps_si512(x), sign_bit)));
}

// tanh(x) = 1 - 2 / (e^{2x} + 1), exact enough away from 0; near 0 the subtraction loses
// relative precision, but absolute error stays ~1e-7, which is what GELU needs.
inline __m512 tanh512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 two = _mm512_set1_ps(2.0f);
  __m512 e = exp512(_mm512_mul_ps(two, x));
  return _mm512_sub_ps(one, _mm512_div_ps(two, _mm512_add_ps(e, one)));
}

inline float reduce_add(__m512 v) { return _mm512_reduce_add_ps(v); }
inline float reduce_max(__m512 v) { return _mm512_reduce_max_ps(v); }
#endif

}  // namespace sdxl::cpu

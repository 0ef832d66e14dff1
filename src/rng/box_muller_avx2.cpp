// torch's Debian build compiles avx_mathfun with GCC and -mfma, and GCC contracts its separate
// _mm256_mul_ps / _mm256_add_ps into fused multiply-adds. Which multiply GCC fuses at each add
// was established against 65,536 torch values (all then bit-identical); the fusions are
// written out below with std::fma, and this file is compiled with -ffp-contract=off so that
// no other contraction creeps in.
#include "rng/box_muller_avx2.h"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace sdxl::rng {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Cephes' logf as avx_mathfun evaluates it: mantissa in [sqrt(1/2), sqrt 2), a degree-8
// polynomial, the exponent added back in two parts.
float cephes_log(float x) {
  const bool invalid = !(x > 0.0f);
  x = std::fmax(x, from_bits(0x00800000u));  // smallest normal: subnormals cut off
  int32_t exponent = static_cast<int32_t>(bits(x) >> 23);
  x = from_bits((bits(x) & ~0x7f800000u) | bits(0.5f));
  exponent -= 0x7f;
  float e = static_cast<float>(exponent);
  e = e + 1.0f;
  const bool below = x < 0.707106781186547524f;
  const float tmp = below ? x : 0.0f;
  x = x - 1.0f;
  e = e - (below ? 1.0f : 0.0f);
  x = x + tmp;
  const float z = x * x;
  float y = 7.0376836292E-2f;
  y = std::fma(y, x, -1.1514610310E-1f);
  y = std::fma(y, x, 1.1676998740E-1f);
  y = std::fma(y, x, -1.2420140846E-1f);
  y = std::fma(y, x, 1.4249322787E-1f);
  y = std::fma(y, x, -1.6668057665E-1f);
  y = std::fma(y, x, 2.0000714765E-1f);
  y = std::fma(y, x, -2.4999993993E-1f);
  y = std::fma(y, x, 3.3333331174E-1f);
  y = y * x;
  const float e_low = e * -2.12194440e-4f;
  y = std::fma(y, z, e_low);
  y = std::fma(-z, 0.5f, y);
  x = std::fma(e, 0.693359375f, x + y);
  return invalid ? from_bits(0xffffffffu) : x;
}

// Cephes' sinf/cosf as avx_mathfun evaluates them: octant reduction by 4/pi with a three-part
// pi/4, then the sine and cosine polynomials selected per octant.
void cephes_sincos(float x, float* sin_out, float* cos_out) {
  uint32_t sign_sin = bits(x) & 0x80000000u;
  x = std::fabs(x);
  float y = x * 1.27323954473516f;
  int32_t j = static_cast<int32_t>(y);  // truncation, as cvttps
  j = (j + 1) & ~1;
  y = static_cast<float>(j);
  const uint32_t swap_sign_sin = static_cast<uint32_t>(j & 4) << 29;
  const bool poly_is_cos = (j & 2) == 0;
  x = std::fma(y, -0.78515625f, x);
  x = std::fma(y, -2.4187564849853515625e-4f, x);
  x = std::fma(y, -3.77489497744594108e-8f, x);
  const uint32_t sign_cos = static_cast<uint32_t>(~(j - 2) & 4) << 29;
  sign_sin ^= swap_sign_sin;
  const float z = x * x;
  float c = 2.443315711809948E-005f;
  c = std::fma(c, z, -1.388731625493765E-003f);
  c = std::fma(c, z, 4.166664568298827E-002f);
  c = c * z;
  const float half_z = z * 0.5f;
  c = std::fma(c, z, -half_z);
  c = c + 1.0f;
  float s = -1.9515295891E-4f;
  s = std::fma(s, z, 8.3321608736E-3f);
  s = std::fma(s, z, -1.6666654611E-1f);
  s = s * z;
  s = std::fma(s, x, x);
  const float sine = poly_is_cos ? s : c;
  const float cosine = poly_is_cos ? c : s;
  *sin_out = from_bits(bits(sine) ^ sign_sin);
  *cos_out = from_bits(bits(cosine) ^ sign_cos);
}

}  // namespace

void normal_fill_16(float* data) {
  const float two_pi = static_cast<float>(2.0 * 3.14159265358979323846);
  for (int j = 0; j < 8; ++j) {
    const float u1 = 1.0f - data[j];  // [0, 1) -> (0, 1] for the log
    const float u2 = data[j + 8];
    const float radius = std::sqrt(-2.0f * cephes_log(u1));
    const float theta = two_pi * u2;
    float sine, cosine;
    cephes_sincos(theta, &sine, &cosine);
    data[j] = radius * cosine;
    data[j + 8] = radius * sine;
  }
}

}  // namespace sdxl::rng

#include "backends/cpu/activation.h"

#include <cmath>

#include "backends/cpu/simd_math.h"
#include "core/parallel.h"

namespace sdxl::cpu {
namespace {

constexpr int64_t kParallelThreshold = 1 << 14;
constexpr float kInvSqrt2 = 0.70710678118654752f;

inline float silu_scalar(float x) { return x / (1.0f + std::exp(-x)); }
inline float gelu_erf_scalar(float x) { return 0.5f * x * (1.0f + erf_scalar(x * kInvSqrt2)); }
inline float gelu_tanh_scalar(float x) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}
inline float quick_gelu_scalar(float x) { return x / (1.0f + std::exp(-1.702f * x)); }
inline float relu_scalar(float x) { return x > 0.0f ? x : 0.0f; }
inline float leaky_relu_scalar(float x) { return x > 0.0f ? x : x * 0.2f; }

#ifdef SDXL_CPU_AVX512
inline __m512 silu512(__m512 x) { return _mm512_mul_ps(x, sigmoid512(x)); }
inline __m512 gelu_erf512(__m512 x) {
  const __m512 half = _mm512_set1_ps(0.5f);
  __m512 e = erf512(_mm512_mul_ps(x, _mm512_set1_ps(kInvSqrt2)));
  return _mm512_mul_ps(_mm512_mul_ps(half, x), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}
inline __m512 gelu_tanh512(__m512 x) {
  __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
  __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                               _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x));
  __m512 t = tanh512(inner);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), t));
}
inline __m512 relu512(__m512 x) { return _mm512_max_ps(x, _mm512_setzero_ps()); }
// max(x, 0.2 x) is x for x > 0 and 0.2 x below: the slope is under 1.
inline __m512 leaky_relu512(__m512 x) { return _mm512_max_ps(x, _mm512_mul_ps(x, _mm512_set1_ps(0.2f))); }
inline __m512 quick_gelu512(__m512 x) { return _mm512_mul_ps(x, sigmoid512(_mm512_mul_ps(_mm512_set1_ps(1.702f), x))); }
#endif

// Applies `vec` on 16 lanes at a time and `scalar` on the tail, in parallel blocks.
template <typename Vec, typename Scalar>
void apply(const float* in, float* out, int64_t n, Vec vec, Scalar scalar) {
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, n >= kParallelThreshold, [&](int64_t b) {
    int64_t i = b * kBlock;
    const int64_t end = i + kBlock < n ? i + kBlock : n;
#ifdef SDXL_CPU_AVX512
    for (; i + 16 <= end; i += 16) _mm512_storeu_ps(out + i, vec(_mm512_loadu_ps(in + i)));
#endif
    for (; i < end; ++i) out[i] = scalar(in[i]);
  });
  (void)vec;
}

#ifdef SDXL_CPU_AVX512
#define SDXL_VEC(fn) [](__m512 x) { return fn(x); }
#else
#define SDXL_VEC(fn) 0
#endif

}  // namespace

void silu(const float* in, float* out, int64_t n) { apply(in, out, n, SDXL_VEC(silu512), silu_scalar); }
void gelu_erf(const float* in, float* out, int64_t n) { apply(in, out, n, SDXL_VEC(gelu_erf512), gelu_erf_scalar); }
void gelu_tanh(const float* in, float* out, int64_t n) { apply(in, out, n, SDXL_VEC(gelu_tanh512), gelu_tanh_scalar); }
void quick_gelu(const float* in, float* out, int64_t n) {
  apply(in, out, n, SDXL_VEC(quick_gelu512), quick_gelu_scalar);
}

void relu(const float* in, float* out, int64_t n) { apply(in, out, n, SDXL_VEC(relu512), relu_scalar); }
void leaky_relu(const float* in, float* out, int64_t n) {
  apply(in, out, n, SDXL_VEC(leaky_relu512), leaky_relu_scalar);
}

void geglu(const float* in, float* out, int64_t rows, int64_t features) {
  parallel_for(rows, rows * features >= kParallelThreshold, [&](int64_t r) {
    const float* value = in + r * 2 * features;
    const float* gate = value + features;
    float* y = out + r * features;
    int64_t i = 0;
#ifdef SDXL_CPU_AVX512
    for (; i + 16 <= features; i += 16)
      _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(value + i), gelu_erf512(_mm512_loadu_ps(gate + i))));
#endif
    for (; i < features; ++i) y[i] = value[i] * gelu_erf_scalar(gate[i]);
  });
}

}  // namespace sdxl::cpu

#include "backends/cpu/softmax.h"

#include <cmath>
#include <limits>

#include "backends/cpu/simd_math.h"

namespace sdxl::cpu {

void softmax_row(const float* in, float* out, int64_t cols) {
  float max_value = -std::numeric_limits<float>::infinity();
  int64_t c = 0;
#ifdef SDXL_CPU_AVX512
  __m512 vmax = _mm512_set1_ps(max_value);
  for (; c + 16 <= cols; c += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(in + c));
  max_value = reduce_max(vmax);
#endif
  for (; c < cols; ++c) max_value = std::fmax(max_value, in[c]);
  // A row of -inf only (everything masked) gives zeros rather than NaN.
  if (max_value == -std::numeric_limits<float>::infinity()) {
    for (c = 0; c < cols; ++c) out[c] = 0.0f;
    return;
  }
  float sum = 0.0f;
  c = 0;
#ifdef SDXL_CPU_AVX512
  const __m512 vm = _mm512_set1_ps(max_value);
  __m512 vsum = _mm512_setzero_ps();
  for (; c + 16 <= cols; c += 16) {
    __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(in + c), vm));
    _mm512_storeu_ps(out + c, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  sum = reduce_add(vsum);
#endif
  for (; c < cols; ++c) {
    out[c] = std::exp(in[c] - max_value);
    sum += out[c];
  }
  const float inv = 1.0f / sum;
  c = 0;
#ifdef SDXL_CPU_AVX512
  const __m512 vinv = _mm512_set1_ps(inv);
  for (; c + 16 <= cols; c += 16) _mm512_storeu_ps(out + c, _mm512_mul_ps(_mm512_loadu_ps(out + c), vinv));
#endif
  for (; c < cols; ++c) out[c] *= inv;
}

}  // namespace sdxl::cpu

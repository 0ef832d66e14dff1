#include "backends/cpu/timestep_embedding.h"

#include <cmath>

namespace sdxl::cpu {

void timestep_embedding(const float* values, int64_t count, int64_t dim, bool flip_sin_to_cos, float freq_shift,
                        float* out) {
  const int64_t half = dim / 2;
  const float log_max_period = static_cast<float>(-std::log(10000.0));
  for (int64_t n = 0; n < count; ++n) {
    float* row = out + n * dim;
    for (int64_t i = 0; i < half; ++i) {
      // torch: exp(float(-ln 10000) * i / (half - shift)), then t * that, all in float32.
      const float frequency = std::exp(log_max_period * static_cast<float>(i) / (static_cast<float>(half) - freq_shift));
      const float arg = values[n] * frequency;
      row[flip_sin_to_cos ? half + i : i] = std::sin(arg);
      row[flip_sin_to_cos ? i : half + i] = std::cos(arg);
    }
    if (dim % 2) row[dim - 1] = 0.0f;  // odd sizes are zero-padded
  }
}

}  // namespace sdxl::cpu

#include "models/unet/timestep_embedding.h"

#include <cmath>

namespace sdxl::models {

void timestep_embedding(const std::vector<float>& values, int64_t dim, bool flip_sin_to_cos, float freq_shift,
                        float* out) {
  const int64_t half = dim / 2;
  const float log_max_period = static_cast<float>(-std::log(10000.0));
  std::vector<float> frequencies(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = log_max_period * static_cast<float>(i) / (static_cast<float>(half) - freq_shift);
    frequencies[static_cast<size_t>(i)] = std::exp(exponent);
  }
  for (size_t n = 0; n < values.size(); ++n) {
    float* row = out + static_cast<int64_t>(n) * dim;
    for (int64_t i = 0; i < half; ++i) {
      const float arg = values[n] * frequencies[static_cast<size_t>(i)];
      row[flip_sin_to_cos ? half + i : i] = std::sin(arg);
      row[flip_sin_to_cos ? i : half + i] = std::cos(arg);
    }
    if (dim % 2) row[dim - 1] = 0.0f;  // odd sizes are zero-padded
  }
}

}  // namespace sdxl::models

// diffusers' get_timestep_embedding: sinusoidal features of (possibly fractional) timesteps,
// computed with torch's float32 operations in the same order so the features agree bit for bit
// as far as the math library allows.
#pragma once

#include <cstdint>

namespace sdxl::cpu {

// values[n] -> out[n * dim .. (n + 1) * dim): [sin | cos], or [cos | sin] with flip_sin_to_cos.
void timestep_embedding(const float* values, int64_t count, int64_t dim, bool flip_sin_to_cos, float freq_shift,
                        float* out);

}  // namespace sdxl::cpu

// LCMScheduler's boundary condition (consistency models' c_skip and c_out at a timestep), shared
// by the sampler and its tests.
#pragma once

#include <cstdint>

namespace sdxl::samplers {

struct LcmBoundary {
  float c_skip, c_out;  // float32, as diffusers multiplies them into float32 tensors
};
// sigma_data 0.5; scaled t = t * timestep_scaling.
LcmBoundary lcm_boundary(int64_t timestep, double timestep_scaling);

}  // namespace sdxl::samplers

// Nearest-neighbour 2x upsampling of channels-last images: in [N, H, W, C] -> out [N, 2H, 2W, C].
#pragma once

#include <cstdint>

namespace sdxl::cpu {

void upsample_nearest2x_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width,
                             int64_t channels);

}  // namespace sdxl::cpu

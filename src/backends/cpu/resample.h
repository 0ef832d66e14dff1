// Nearest-neighbour 2x upsampling of channels-last images: in [N, H, W, C] -> out [N, 2H, 2W, C].
#pragma once

#include <cstdint>

namespace sdxl::cpu {

void upsample_nearest2x_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width,
                             int64_t channels);

// General nearest resize, torch's rule: source index = floor(dst * (in / out)) in float.
void resize_nearest_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width, int64_t channels,
                         int64_t out_height, int64_t out_width);

}  // namespace sdxl::cpu

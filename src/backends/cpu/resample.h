// Nearest-neighbour 2x upsampling of channels-last images: in [N, H, W, C] -> out [N, 2H, 2W, C].
#pragma once

#include <cstdint>

namespace sdxl::cpu {

void upsample_nearest2x_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width,
                             int64_t channels);

// General nearest resize, torch's rule: source index = floor(dst * (in / out)) in float.
void resize_nearest_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width, int64_t channels,
                         int64_t out_height, int64_t out_width);

// torch's PixelUnshuffle(r) in channels-last: in [N, H, W, C] -> out [N, H/r, W/r, C*r*r] with
// out channel c*r*r + dy*r + dx = in[y*r + dy, x*r + dx, c] (H and W multiples of r).
void pixel_unshuffle_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width, int64_t channels,
                          int64_t factor);

// torch's AvgPool2d(2, stride 2, ceil_mode=True): out [N, ceil(H/2), ceil(W/2), C], each the mean
// of the window's pixels inside the image (a window cut by the edge divides by fewer).
void avg_pool2x2_ceil_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width,
                           int64_t channels);

}  // namespace sdxl::cpu

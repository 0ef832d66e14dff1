// torch.nn.functional.interpolate (torch 1.13, align_corners=False) on planes: in [P, H, W] ->
// out [P, OH, OW], the scale of each axis in / out as a float. Both kinds are separable: each
// output index takes a weighted sum of input indices along one axis, the width first.
//   nearest:       src = min(floor(dst * scale), in - 1)
//   nearest-exact: src = min(floor((dst + 0.5) * scale), in - 1)
//   bilinear:      src = max(0, (dst + 0.5) * scale - 0.5), its two neighbours (clamped)
//   bicubic:       src = (dst + 0.5) * scale - 0.5, four taps floor(src) - 1 .. + 2 (clamped),
//                  cubic convolution with a = -0.75
//   antialias (bilinear, bicubic): PIL's separable filter, widened by the scale when shrinking:
//                  centre (dst + 0.5) * scale, support 1 (triangle) or 2 (cubic, a = -0.5) times
//                  max(scale, 1), weights normalised to sum 1
#pragma once

#include <cstdint>

namespace sdxl::cpu {

enum class InterpolateMode { Nearest, NearestExact, Bilinear, Bicubic };

void interpolate_planes(const float* in, float* out, int64_t planes, int64_t height, int64_t width, int64_t out_height,
                        int64_t out_width, InterpolateMode mode, bool antialias);

}  // namespace sdxl::cpu

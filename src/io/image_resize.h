// Resizing 8-bit images exactly as diffusers' VaeImageProcessor does for PIL inputs:
// PIL's Image.resize(size, LANCZOS) (Pillow 9.x), a separable 3-lobe Lanczos filter widened by
// the scale when shrinking, with PIL's 22-bit fixed-point coefficients and rounding, so that
// the pixels, and hence the images generated from them, are the same.
#pragma once

#include <cstdint>

#include "io/png.h"

namespace sdxl::io {

// Gray, RGB or RGBA (RGBA is resized with premultiplied alpha, as PIL does). The same size
// returns a copy.
Image8 resize_lanczos(const Image8& image, int64_t width, int64_t height);

// PIL's Image.resize(size, resample, box) for its Lanczos and bicubic filters (bicubic is
// resize's default): `box` is the source region (x0, y0, x1, y1), in pixels, possibly fractional
// or empty (an edge stretched, as AUTOMATIC1111's resize-and-fill does).
enum class ResampleFilter { Lanczos, Bicubic };
struct SourceBox {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};
Image8 resize_pil(const Image8& image, int64_t width, int64_t height, ResampleFilter filter, SourceBox box);

// PIL's Image.resize(size, NEAREST): source pixel floor((dst + 0.5) * in / out), the position
// accumulated step by step in double as Pillow's ImagingScaleAffine does.
Image8 resize_nearest_pil(const Image8& image, int64_t width, int64_t height);

// PIL's RGBA -> "RGBa" (colour times alpha / 255, rounded) and back (colour * 255 / alpha,
// truncated and clipped; alpha 0 or 255 left as it is), in place.
void premultiply(Image8& rgba);
void unpremultiply(Image8& rgba);

// diffusers' VaeImageProcessor.get_default_height_width: the requested size (or the image's
// when 0) rounded down to a multiple of `multiple`.
int64_t round_down_to_multiple(int64_t size, int64_t multiple);

}  // namespace sdxl::io

// transformers' CLIPImageProcessor with its defaults (what diffusers creates for IP-Adapters): RGB;
// the short side resized to `size` with Pillow's bicubic filter on the 8-bit image (the long side
// int(size * long / short)); a centre crop of size x size; k / 255 (in double, then float); then
// (x - mean) / std with CLIP's mean and std in float, channels first.
#pragma once

#include "core/tensor.h"
#include "io/png.h"

namespace sdxl::imaging {

// The 8-bit image after the resize and the centre crop (what the normalisation reads).
io::Image8 clip_resized_crop(const io::Image8& image, int64_t size = 224);
// pixel_values [1, 3, size, size] f32.
Tensor clip_pixel_values(const io::Image8& image, int64_t size = 224);

}  // namespace sdxl::imaging

// diffusers' VaeImageProcessor for PIL inputs: the size rounded down to a multiple of the VAE's
// scale, PIL's Lanczos resize in the image's own mode, RGB (or L for masks), values / 255.
#pragma once

#include "core/tensor.h"
#include "io/png.h"

namespace sdxl::pipeline {

// The size an init image is generated at: `width` x `height` when given (> 0), else the image's
// own, each rounded down to a multiple of `multiple`.
struct ImageSize {
  int64_t width = 0, height = 0;
};
ImageSize processed_size(const io::Image8& image, int64_t width, int64_t height, int64_t multiple);

// An RGB image as [1, 3, H, W] in [0, 1] (values / 255, no resize).
Tensor image_tensor(const io::Image8& rgb);
// VaeImageProcessor.preprocess: resized to `size`, RGB, [1, 3, H, W] in [0, 1].
Tensor preprocess_image(const io::Image8& image, ImageSize size);
// The mask processor: resized to `size`, gray, [1, 1, H, W] in [0, 1] (binarised later).
Tensor preprocess_mask(const io::Image8& mask, ImageSize size);

// Images [N, H, W, 3] in [0, 1] -> 8-bit, as diffusers' numpy_to_pil rounds them.
std::vector<uint8_t> to_8bit(const Tensor& images);

}  // namespace sdxl::pipeline

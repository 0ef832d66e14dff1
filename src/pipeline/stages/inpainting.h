// diffusers' inpainting arithmetic on the latents (StableDiffusionXLInpaintPipeline), on the
// host by design (a few hundred kB a step): the mask at latent resolution, the masked image,
// and the known region put back after each step.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace sdxl::pipeline {

// mask [M, 1, H, W] in [0, 1] -> [images, 1, h, w]: nearest-resized (torch's interpolate, mode
// "nearest") and binarised (>= 0.5 is 1: repaint); item n takes mask n % M.
Tensor mask_to_latents(const Tensor& mask, int64_t images, int64_t h, int64_t w);
// image [N, 3, H, W] in [0, 1] with the region to repaint set to 0.5 (0 once normalised to
// [-1, 1], as diffusers masks it); item n takes mask n % M.
Tensor masked_image(const Tensor& image, const Tensor& mask);
// x [N, C, h, w] = (1 - m) * known + m * x: outside the mask the image's own latents (noised to
// the next timestep) replace what was denoised.
void keep_known_region(Tensor& x, const Tensor& known, const Tensor& mask_latents);

}  // namespace sdxl::pipeline

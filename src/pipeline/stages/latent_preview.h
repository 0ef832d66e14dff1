// The cheap live preview: SDXL's latents mapped linearly to RGB, one pixel per latent (1/8 of the
// image's size). No model runs, so it costs microseconds per step; TAESD will give a sharper one.
#pragma once

#include "core/tensor.h"
#include "io/png.h"

namespace sdxl::pipeline {

// Image `index` of latents [N, 4, h, w] as an RGB image of h x w.
io::Image8 latent_preview(const Tensor& latents, int64_t index = 0);

}  // namespace sdxl::pipeline

// The hires fix's upscaling step: the first pass's latents resized as torch's interpolate does
// (AUTOMATIC1111's latent_upscale_modes), or its decoded 8-bit images resized with Pillow's
// Lanczos or nearest filter or an ESRGAN-family model (A1111's images.resize_image).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/png.h"
#include "models/upscalers/rrdbnet.h"
#include "ops.h"

namespace sdxl::pipeline {

struct LatentUpscale {
  ops::Interpolation mode = ops::Interpolation::Bilinear;
  bool antialias = false;
};
// "Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)",
// "Latent (nearest)", "Latent (nearest-exact)"; none for any other name.
std::optional<LatentUpscale> latent_upscale_mode(const std::string& upscaler);
const std::vector<std::string>& latent_upscaler_names();
// The pixel upscalers that need no model: AUTOMATIC1111's "Lanczos" and "Nearest", and "None"
// (its resize_image without an upscaler: one Lanczos resize).
bool is_builtin_pixel_upscaler(const std::string& upscaler);

// latents [N, 4, h, w] -> [N, 4, height / 8, width / 8], then `truncate` latent columns and rows
// cropped (half from the left/top, rounded down, the rest from the right/bottom).
Tensor upscale_latents(const Tensor& latents, int64_t width, int64_t height, LatentUpscale mode, int64_t truncate_x,
                       int64_t truncate_y);

// A1111's images.resize_image(0, image, width, height, upscaler_name) for "Lanczos", "Nearest" or
// a model (`net`): the upscaler runs when the image grows (A1111's Upscaler.upscale), then a
// Lanczos resize lands on the size exactly.
io::Image8 upscale_pixels(const io::Image8& image, int64_t width, int64_t height, const std::string& upscaler,
                          const models::RrdbNet* net);

// The image less `truncate_x` / `truncate_y` latent columns and rows (8 pixels each), split as
// upscale_latents splits them.
io::Image8 truncate_image(const io::Image8& image, int64_t truncate_x, int64_t truncate_y);

}  // namespace sdxl::pipeline

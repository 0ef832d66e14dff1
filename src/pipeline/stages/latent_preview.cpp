#include "pipeline/stages/latent_preview.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sdxl::pipeline {
namespace {

// RGB per latent channel: a least-squares fit of the SDXL VAE's decoded colours to its 4 latent
// channels (the factors ComfyUI publishes for SDXL's latent format). Output in about [-1, 1].
constexpr float kLatentToRgb[4][3] = {
    {0.3920f, 0.4054f, 0.4549f},
    {-0.2634f, -0.0196f, 0.0653f},
    {0.0568f, 0.1687f, -0.0755f},
    {-0.3112f, -0.2359f, -0.2076f},
};

}  // namespace

io::Image8 latent_preview(const Tensor& latents, int64_t index) {
  SDXL_CHECK(latents.rank() == 4 && latents.dim(1) == 4 && latents.dtype() == DType::F32 && index >= 0 &&
                 index < latents.dim(0),
             InvalidArgument, "[preview] expected f32 latents [N, 4, h, w] and an image index, got ",
             latents.shape().to_string(), " and ", index);
  const int64_t h = latents.dim(2), w = latents.dim(3), plane = h * w;
  const float* x = latents.data<float>() + index * 4 * plane;
  io::Image8 image{w, h, 3, std::vector<uint8_t>(static_cast<size_t>(plane * 3))};
  for (int64_t i = 0; i < plane; ++i)
    for (int c = 0; c < 3; ++c) {
      float v = 0.0f;
      for (int k = 0; k < 4; ++k) v += x[k * plane + i] * kLatentToRgb[k][c];
      image.pixels[static_cast<size_t>(i * 3 + c)] =
          static_cast<uint8_t>(std::lround(std::clamp((v + 1.0f) * 127.5f, 0.0f, 255.0f)));
    }
  return image;
}

}  // namespace sdxl::pipeline

#include "pipeline/stages/inpainting.h"

#include "core/error.h"

namespace sdxl::pipeline {

Tensor mask_to_latents(const Tensor& mask, int64_t images, int64_t h, int64_t w) {
  SDXL_CHECK(mask.rank() == 4 && mask.dim(1) == 1 && mask.dtype() == DType::F32, InvalidArgument,
             "[inpaint] the mask must be f32 [M, 1, H, W], got ", mask.shape().to_string());
  const int64_t H = mask.dim(2), W = mask.dim(3);
  Tensor out = Tensor::empty(Shape{images, 1, h, w}, DType::F32);
  for (int64_t n = 0; n < images; ++n)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = static_cast<int64_t>(static_cast<float>(y) * (static_cast<float>(H) / static_cast<float>(h)));
        const int64_t sx = static_cast<int64_t>(static_cast<float>(x) * (static_cast<float>(W) / static_cast<float>(w)));
        const float m = mask.data<float>()[(n % mask.dim(0)) * H * W + sy * W + sx];
        out.data<float>()[(n * h + y) * w + x] = m < 0.5f ? 0.0f : 1.0f;
      }
  return out;
}

Tensor masked_image(const Tensor& image, const Tensor& mask) {
  SDXL_CHECK(image.rank() == 4 && image.dim(1) == 3 && mask.rank() == 4 && mask.dim(2) == image.dim(2) &&
                 mask.dim(3) == image.dim(3),
             InvalidArgument, "[inpaint] the mask ", mask.shape().to_string(), " does not match the image ",
             image.shape().to_string());
  Tensor masked = image.clone();
  const int64_t plane = image.dim(2) * image.dim(3);
  for (int64_t n = 0; n < masked.dim(0); ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < plane; ++i)
        if (mask.data<float>()[(n % mask.dim(0)) * plane + i] >= 0.5f) masked.data<float>()[(n * 3 + c) * plane + i] = 0.5f;
  return masked;
}

void keep_known_region(Tensor& x, const Tensor& known, const Tensor& mask_latents) {
  SDXL_CHECK(known.shape() == x.shape() && mask_latents.dim(0) == x.dim(0) &&
                 mask_latents.numel() == x.dim(0) * x.dim(2) * x.dim(3),
             InvalidArgument, "[inpaint] latents ", x.shape().to_string(), ", known ", known.shape().to_string(), ", mask ",
             mask_latents.shape().to_string(), " do not match");
  const int64_t plane = x.dim(2) * x.dim(3), c = x.dim(1);
  for (int64_t n = 0; n < x.dim(0); ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < plane; ++k) {
        const float m = mask_latents.data<float>()[n * plane + k];
        float& v = x.data<float>()[(n * c + ch) * plane + k];
        v = (1.0f - m) * known.data<float>()[(n * c + ch) * plane + k] + m * v;
      }
}

}  // namespace sdxl::pipeline

#include "pipeline/stages/latent_codec.h"

#include <algorithm>

#include "core/error.h"
#include "pipeline/stages/tensor_batch.h"

namespace sdxl::pipeline {

AutoencoderKlCodec::AutoencoderKlCodec(models::AutoencoderKL vae, const io::VaeConfig& config)
    : vae_(std::move(vae)), scaling_factor_(static_cast<float>(config.scaling_factor)) {}

Tensor AutoencoderKlCodec::encode(Arena& arena, const Tensor& image01, rng::BatchGenerators& generators,
                                  const CodecProgress& progress) const {
  SDXL_CHECK(image01.dim(0) == 1, InvalidArgument, "[vae] encodes one image, not ", image01.dim(0));
  Tensor image = image01.clone();
  for (int64_t i = 0; i < image.numel(); ++i) image.data<float>()[i] = 2.0f * image.data<float>()[i] - 1.0f;
  arena.reset();
  auto posterior = vae_.encode(arena, image, progress);
  Tensor latents = generators.randn_for_each(posterior.mean.shape());
  const float* mean = posterior.mean.data<float>();
  const float* std = posterior.std.data<float>();
  const int64_t each = posterior.mean.numel();
  for (int64_t n = 0; n < latents.dim(0); ++n) {
    float* out = latents.data<float>() + n * each;
    for (int64_t i = 0; i < each; ++i) out[i] = scaling_factor_ * (mean[i] + std[i] * out[i]);
  }
  arena.reset();
  return latents;
}

Tensor AutoencoderKlCodec::decode(Arena& arena, const Tensor& latents, bool vae_tiling,
                                  const CodecProgress& progress) const {
  Tensor scaled = latents.clone();
  for (int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] /= scaling_factor_;
  arena.reset();
  // [N, 3, H, W]; in bands: the same image in about a quarter of the memory
  const Tensor decoded = vae_tiling ? vae_.decode_in_bands(arena, scaled, 0, progress) : vae_.decode(arena, scaled, progress);
  Tensor out = to_unit_range_nhwc(decoded);
  arena.reset();
  return out;
}

Tensor to_unit_range_nhwc(const Tensor& decoded) {
  const int64_t images = decoded.dim(0), h = decoded.dim(2), w = decoded.dim(3), c = decoded.dim(1);
  Tensor out = Tensor::empty(Shape{images, h, w, c}, DType::F32);
  for (int64_t n = 0; n < images; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < h * w; ++i) {
        const float v = decoded.data<float>()[(n * c + ch) * h * w + i] / 2.0f + 0.5f;
        out.data<float>()[(n * h * w + i) * c + ch] = std::clamp(v, 0.0f, 1.0f);
      }
  return out;
}

Tensor TinyAutoencoderCodec::encode(Arena& arena, const Tensor& image01, rng::BatchGenerators& generators,
                                    const CodecProgress& progress) const {
  SDXL_CHECK(image01.dim(0) == 1, InvalidArgument, "[taesd] encodes one image, not ", image01.dim(0));
  Tensor image = image01.clone();
  for (int64_t i = 0; i < image.numel(); ++i) image.data<float>()[i] = 2.0f * image.data<float>()[i] - 1.0f;
  if (progress) progress(0, 1);
  arena.reset();
  Tensor latents = taesd_.encode(arena, image).clone();
  arena.reset();
  const float sf = static_cast<float>(taesd_.config().scaling_factor);
  for (int64_t i = 0; i < latents.numel(); ++i) latents.data<float>()[i] *= sf;
  return tile_batch(latents, generators.images());
}

Tensor TinyAutoencoderCodec::decode(Arena& arena, const Tensor& latents, bool, const CodecProgress& progress) const {
  Tensor scaled = latents.clone();
  const float sf = static_cast<float>(taesd_.config().scaling_factor);
  for (int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] /= sf;
  if (progress) progress(0, 1);
  arena.reset();
  Tensor out = to_unit_range_nhwc(taesd_.decode(arena, scaled));
  arena.reset();
  return out;
}

}  // namespace sdxl::pipeline

// The latent codec: what turns images into the UNet's latents and back: AutoencoderKL (with its
// scaling factor and posterior sampling) or the tiny autoencoder (TAESD, for fast decodes and
// previews); the pipeline never knows which it holds.
#pragma once

#include <functional>
#include <memory>

#include "core/arena.h"
#include "core/tensor.h"
#include "io/model_configs.h"
#include "models/taesd/autoencoder_tiny.h"
#include "models/vae/autoencoder_kl.h"
#include "rng/batch_generators.h"

namespace sdxl::pipeline {

// Called between a codec's blocks with (done, total): progress, and where a cancel can stop it.
using CodecProgress = std::function<void(int64_t done, int64_t total)>;

class LatentCodec {
 public:
  virtual ~LatentCodec() = default;
  virtual int64_t scale() const = 0;  // image pixels per latent along each side
  // image [1, 3, H, W] in [0, 1] -> latents [images, C, H / scale, W / scale] as the UNet sees them,
  // one per image of the batch `generators` draws for; a stochastic codec samples each image's
  // latents from its stream (where diffusers draws it), a deterministic one repeats them.
  virtual Tensor encode(Arena& arena, const Tensor& image01, rng::BatchGenerators& generators,
                        const CodecProgress& progress) const = 0;
  // latents as the UNet sees them -> images [N, H, W, 3] in [0, 1], channels-last. `vae_tiling`
  // (the request's name): decode a band of rows at a time where the codec can (AutoencoderKL::
  // decode_in_bands: the same image, less memory).
  virtual Tensor decode(Arena& arena, const Tensor& latents, bool vae_tiling, const CodecProgress& progress) const = 0;
};

// diffusers' AutoencoderKL as the pipelines use it: encode samples the posterior and multiplies
// by scaling_factor; decode divides by it, and maps [-1, 1] to [0, 1].
class AutoencoderKlCodec final : public LatentCodec {
 public:
  AutoencoderKlCodec(models::AutoencoderKL vae, const io::VaeConfig& config);
  int64_t scale() const override { return vae_.scale(); }
  Tensor encode(Arena& arena, const Tensor& image01, rng::BatchGenerators& generators,
                const CodecProgress& progress) const override;
  Tensor decode(Arena& arena, const Tensor& latents, bool vae_tiling, const CodecProgress& progress) const override;

 private:
  models::AutoencoderKL vae_;
  float scaling_factor_;
};

// diffusers' AutoencoderTiny (TAESD) as the SDXL pipeline uses it: deterministic latents (no
// sampling: the generator is not drawn from), scaling_factor (1.0 for taesdxl) applied, images
// clamped to [0, 1]. No band-wise mode: its activations are small.
class TinyAutoencoderCodec final : public LatentCodec {
 public:
  explicit TinyAutoencoderCodec(models::AutoencoderTiny taesd) : taesd_(std::move(taesd)) {}
  int64_t scale() const override { return taesd_.scale(); }
  Tensor encode(Arena& arena, const Tensor& image01, rng::BatchGenerators& generators,
                const CodecProgress& progress) const override;
  Tensor decode(Arena& arena, const Tensor& latents, bool vae_tiling, const CodecProgress& progress) const override;

 private:
  models::AutoencoderTiny taesd_;
};

// NCHW images in [-1, 1] -> NHWC in [0, 1], clamped (what both codecs hand back).
Tensor to_unit_range_nhwc(const Tensor& decoded);

}  // namespace sdxl::pipeline

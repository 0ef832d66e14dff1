// StableDiffusionXLPipeline, StableDiffusionXLImg2ImgPipeline and StableDiffusionXLInpaintPipeline
// (diffusers 0.25.1) in one: the request's inputs choose the mode. generate() runs diffusers'
// stages in its order: check inputs, encode the prompt, get the timesteps (strength,
// denoising_start / denoising_end), prepare the latents, prepare the mask latents, denoise, decode.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "models/common/adaptable_layers.h"
#include "models/unet/unet.h"
#include "pipeline/request/generate_request.h"
#include "pipeline/stages/latent_codec.h"
#include "pipeline/sources/model_source.h"
#include "pipeline/sources/packed_layers.h"
#include "pipeline/prompts/prompt_encoder.h"
#include "pipeline/request/request_limits.h"
#include "rng/batch_generators.h"

namespace sdxl::pipeline {

class SdxlPipeline {
 public:
  // `precision`: BF16 runs the text encoders' and UNet's linears and convolutions in bf16
  // (f32 accumulation); norms, attention and (with force_upcast) the VAE stay f32.
  // `one_shot`: free the text encoders after each prompt encoding and load the UNet only then,
  // and free the UNet before the VAE decode (and the VAE while the UNet runs), so that no two of
  // them are in memory together (one-shot use such as the CLI; a later call loads them again).
  // Configs are checked here.
  // `cache`: the packed-weight cache its models' layers come from and go to (default: none).
  static SdxlPipeline load(std::shared_ptr<const ModelSource> source, ops::Precision precision = ops::Precision::F32,
                           bool one_shot = false, const PackedCacheSettings& cache = {});
  static SdxlPipeline load(const std::filesystem::path& model, const std::string& variant = "",
                           ops::Precision precision = ops::Precision::F32, bool one_shot = false) {
    return load(open_model_source(model, variant), precision, one_shot);
  }
  GenerateResult generate(const GenerateRequest& request);
  // Latents as generate() leaves them -> images [N, H, W, 3] in [0, 1] (request: tiling, progress).
  Tensor decode(const GenerateRequest& request, const Tensor& latents);

  const ModelSource& source() const { return *source_; }
  bool is_refiner() const { return source_->is_refiner(); }
  int64_t vae_scale() const { return vae_config_.scale(); }
  const io::UNetConfig& unet_config() const { return unet_config_; }
  // Weights and channel widths, for the memory estimate of a request: of this pipeline, or of
  // a folder not loaded (from its configs and weight headers).
  ModelFootprint footprint() const;
  static ModelFootprint footprint(const ModelSource& source, ops::Precision precision);
  // Another source of the same model (the same one with other LoRAs). Loaded layers the old or
  // the new LoRAs touch are packed again in place, from their originals kept in memory; when
  // that cannot be (a model loaded with LoRAs merged, a LoRA touching other tensors), the UNet
  // and text encoders are bound from the new source when next used. The VAE stays.
  void use_source(std::shared_ptr<const ModelSource> source);
  // Gives back the activation memory kept from the largest request so far.
  void release_activation_memory();
  // Other codecs than the model's VAE for the final decode and for init images (TAESD); null:
  // the VAE.
  void use_codecs(std::shared_ptr<const LatentCodec> decoder, std::shared_ptr<const LatentCodec> encoder);

 private:
  struct Schedule {
    std::unique_ptr<samplers::Scheduler> scheduler;
    std::vector<double> timesteps;  // the slice this call runs
    int64_t train_steps = 1000;
  };
  struct PreparedLatents {
    Tensor latents;        // the starting point of the loop
    Tensor image_latents;  // img2img / inpaint: the init image's latents
    Tensor noise;          // inpaint: the noise the known region is re-noised with
  };

  bool adapt_in_place();
  PromptEmbeddings encode_prompt(const GenerateRequest& r);
  GuidanceSettings effective_guidance(const GenerateRequest& r) const;
  Schedule get_timesteps(const GenerateRequest& r, bool img2img) const;
  PreparedLatents prepare_latents(const GenerateRequest& r, const Schedule& s, rng::BatchGenerators& generators);
  Tensor prepare_mask_latents(const GenerateRequest& r, const Tensor& latents, rng::BatchGenerators& generators);
  Tensor encode_image(const GenerateRequest& r, const Tensor& image01, rng::BatchGenerators& generators);
  void check_controlnets(const GenerateRequest& r, int64_t height, int64_t width) const;
  void check_adapters(const GenerateRequest& r, int64_t height, int64_t width) const;

  std::shared_ptr<const ModelSource> source_;
  std::shared_ptr<PromptEncoder> prompt_encoder_;
  // The latent codec (the VAE) and the UNet, loaded on first use (one-shot pipelines free them
  // after use).
  const LatentCodec& codec();
  models::UNet2DConditionModel& unet();

  std::shared_ptr<models::UNet2DConditionModel> unet_;
  // Long-lived pipelines: the layers of the UNet and text encoders a LoRA change packs again.
  std::map<std::string, models::AdaptableLayers> adaptable_;
  std::shared_ptr<const LatentCodec> codec_;
  std::shared_ptr<const LatentCodec> decoder_, encoder_;  // overrides of codec_ (TAESD)
  io::UNetConfig unet_config_;
  io::VaeConfig vae_config_;
  nlohmann::json scheduler_config_;
  int64_t projection_dim_ = 0;
  bool release_text_encoders_ = false;
  ops::Precision precision_ = ops::Precision::F32;
  PackedCacheSettings packed_cache_;
  std::unique_ptr<Arena> arena_ = std::make_unique<Arena>();  // boxed: the pipeline stays movable
};

}  // namespace sdxl::pipeline

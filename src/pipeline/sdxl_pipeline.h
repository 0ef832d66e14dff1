// StableDiffusionXLPipeline (txt2img), diffusers 0.25.1 semantics: encode_prompt, initial
// latents from the torch-compatible generator, micro-conditioning time ids, the denoising loop,
// VAE decode with the scaling factor, images in [0, 1].
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "io/pipeline_folder.h"
#include "models/unet/unet.h"
#include "models/vae/autoencoder_kl.h"
#include "pipeline/denoiser.h"
#include "pipeline/prompt_encoder.h"
#include "rng/torch_generator.h"

namespace sdxl::pipeline {

struct SizeHW {
  int64_t height = 0, width = 0;
};

struct GenerateRequest {
  PromptRequest prompts;  // prompt(s), negatives, num_images_per_prompt, clip_skip
  int64_t width = 1024, height = 1024;
  int64_t steps = 30;
  GuidanceSettings guidance;
  uint64_t seed = 0;
  std::string scheduler;  // a diffusers class name; empty: the model's own
  nlohmann::json scheduler_overrides = nlohmann::json::object();
  std::optional<SizeHW> original_size, target_size, negative_original_size, negative_target_size;
  std::pair<int64_t, int64_t> crops_coords_top_left{0, 0}, negative_crops_coords_top_left{0, 0};
  bool decode = true;  // false: latents only
  // Decode in row bands (AutoencoderKL::decode_in_bands): the same image in about a quarter of
  // the decoder's memory at 1024x1024, for more time.
  bool vae_tiling = false;
  StepCallback on_step;

  // img2img (SDEdit): init_image [1, 3, H, W] in [0, 1] (the output takes its size), or
  // init_latents [N, 4, h, w] (a base's output handed to the refiner: used as they are).
  Tensor init_image, init_latents;
  double strength = 0.3;
  // inpainting: mask [1, 1, H, W] in [0, 1], white (>= 0.5) = repaint; needs init_image.
  Tensor mask;
  // The ensemble of experts: the base stops at denoising_end, the refiner starts at
  // denoising_start (fractions of the noise schedule, in (0, 1)).
  std::optional<double> denoising_start, denoising_end;
  double aesthetic_score = 6.0, negative_aesthetic_score = 2.5;  // refiner (requires_aesthetics_score)
};

struct GenerateResult {
  Tensor latents;  // [N, 4, h, w], before the VAE (not divided by the scaling factor)
  Tensor images;   // [N, H, W, 3] in [0, 1]; undefined when not decoded
};

// StableDiffusionXLPipeline, StableDiffusionXLImg2ImgPipeline and
// StableDiffusionXLInpaintPipeline in one: the request's inputs choose the mode.
class SdxlPipeline {
 public:
  // `precision`: BF16 runs the text encoders' and UNet's linears and convolutions in bf16
  // (f32 accumulation); norms, attention and (with force_upcast) the VAE stay f32.
  // `one_shot`: free the text encoders after each prompt encoding and load the UNet only then,
  // and free the UNet before the VAE decode (and the VAE while the UNet runs), so that no two of
  // them are in memory together (one-shot use such as the CLI; a later call loads them again).
  // Configs are checked here.
  static SdxlPipeline load(const std::filesystem::path& model_dir, const std::string& variant = "",
                           ops::Precision precision = ops::Precision::F32, bool one_shot = false);
  GenerateResult generate(const GenerateRequest& request);

  const io::PipelineFolder& folder() const { return folder_; }
  bool is_refiner() const { return folder_.index().requires_aesthetics_score; }

 private:
  Tensor encode_image(const Tensor& image01, rng::TorchGenerator& generator);

  io::PipelineFolder folder_;
  std::shared_ptr<PromptEncoder> prompt_encoder_;
  // The VAE and the UNet, loaded on first use (one-shot pipelines free them after use).
  models::AutoencoderKL& vae();
  models::UNet2DConditionModel& unet();

  std::shared_ptr<models::UNet2DConditionModel> unet_;
  std::shared_ptr<models::AutoencoderKL> vae_;
  io::UNetConfig unet_config_;
  io::VaeConfig vae_config_;
  nlohmann::json scheduler_config_;
  int64_t projection_dim_ = 0;
  bool release_text_encoders_ = false;
  ops::Precision precision_ = ops::Precision::F32;
  std::unique_ptr<Arena> arena_ = std::make_unique<Arena>();  // boxed: the pipeline stays movable
};

// Images [N, H, W, 3] in [0, 1] -> 8-bit, as diffusers' numpy_to_pil rounds them.
std::vector<uint8_t> to_8bit(const Tensor& images);

}  // namespace sdxl::pipeline

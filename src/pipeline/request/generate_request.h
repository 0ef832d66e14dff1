// What one generation asks for, in diffusers' parameter names: the StableDiffusionXL(Img2Img|
// Inpaint)Pipeline.__call__ arguments, plus the progress callback that can cancel.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "core/tensor.h"
#include "pipeline/stages/adapter_steering.h"
#include "pipeline/stages/control_steering.h"
#include "pipeline/stages/image_prompt.h"
#include "pipeline/stages/denoiser.h"
#include "pipeline/prompts/prompt_encoder.h"
#include "imaging/a1111_inpaint.h"
#include "rng/batch_generators.h"

namespace sdxl::pipeline {

struct SizeHW {
  int64_t height = 0, width = 0;
};

// One report of a long-running stage: "denoising", "refining" or "hires" after each step (step from 1,
// with the latents [N, 4, h, w] after it), "decoding" before and after the VAE decode.
struct Progress {
  const char* stage = "denoising";
  int64_t step = 0, total = 0;
  const Tensor* latents = nullptr;  // the current latents while denoising, else null
};
// What a progress callback answers: go on; cancel (the generation stops with an Error of code
// Cancelled); or finish now (AUTOMATIC1111's interrupt: denoising stops after this step and
// the latents reached are decoded and returned; asked during an encode or decode, that stage
// completes first).
enum class ProgressAnswer { Go, Cancel, Finish };
using ProgressFn = std::function<ProgressAnswer(const Progress&)>;

struct GenerateRequest {
  PromptRequest prompts;  // prompt(s), negatives, images per prompt, the text encoders' layer
  int64_t width = 1024, height = 1024;
  int64_t steps = 30;
  GuidanceSettings guidance;
  uint64_t seed = 0;  // image i's generator takes seed + i, or all share one (seeding)
  rng::BatchSeeding seeding = rng::BatchSeeding::PerImage;
  // AUTOMATIC1111's variation seed: 0 strength is none; else every image has `seed` and image i's
  // starting noise is slerped toward the noise of subseed + i.
  uint64_t subseed = 0;
  double subseed_strength = 0.0;
  // AUTOMATIC1111's seed resize: the noise drawn for this size (pixels), centred in the real one.
  int64_t seed_resize_from_width = 0, seed_resize_from_height = 0;
  std::string scheduler;  // a diffusers class name; empty: the model's own
  std::string sampler_name;  // AUTOMATIC1111's name of what runs ("DPM++ 2M Karras"), for the PNG text
  nlohmann::json scheduler_overrides = nlohmann::json::object();
  std::optional<SizeHW> original_size, target_size, negative_original_size, negative_target_size;
  std::pair<int64_t, int64_t> crops_coords_top_left{0, 0}, negative_crops_coords_top_left{0, 0};
  bool decode = true;  // false: latents only
  // Decode in row bands (AutoencoderKL::decode_in_bands): the same image in about a quarter of
  // the decoder's memory at 1024x1024, for more time.
  bool vae_tiling = false;
  ProgressFn on_progress;
  const char* stage = "denoising";  // the name progress reports carry ("refining" for a refiner, "hires" for a second pass)

  // img2img (SDEdit): init_image [1, 3, H, W] in [0, 1] (the output takes its size), or
  // init_latents [N, 4, h, w] (a base's output handed to the refiner: used as they are).
  Tensor init_image, init_latents;
  double strength = 0.3;
  // inpainting: mask [1, 1, H, W] in [0, 1], white (>= 0.5) = repaint; needs init_image.
  Tensor mask;
  // AUTOMATIC1111's inpainting_fill "latent noise" / "latent nothing" start the area to repaint
  // from the noise or from zeros ("fill" and "original" work on the image before); its
  // initial_noise_multiplier scales the starting noise.
  imaging::MaskedContent masked_content = imaging::MaskedContent::Original;
  double initial_noise_multiplier = 1.0;
  // The ensemble of experts: the base stops at denoising_end, the refiner starts at
  // denoising_start (fractions of the noise schedule, in (0, 1)).
  std::optional<double> denoising_start, denoising_end;
  double aesthetic_score = 6.0, negative_aesthetic_score = 2.5;  // refiner (requires_aesthetics_score)
  // ControlNets steering the denoising (diffusers' controlnet, image, controlnet_conditioning_scale,
  // control_guidance_start / _end as lists), and guess_mode: under CFG the nets see only the
  // prompt, their residuals ramped from 0.1x at the shallowest to 1x at the mid block.
  std::vector<ControlUnit> controlnets;
  bool guess_mode = false;
  // T2I-Adapters (diffusers' adapter, image, adapter_conditioning_scale, adapter_conditioning_factor).
  std::vector<AdapterUnit> adapters;
  // An IP-Adapter (diffusers' load_ip_adapter + set_ip_adapter_scale + ip_adapter_image).
  std::optional<IpAdapterUnit> ip_adapter;
};

// Where a generation's time went (wall-clock seconds; model loads inside a stage count in it).
struct StageSeconds {
  double text = 0, denoise = 0, decode = 0;
  double total() const { return text + denoise + decode; }
};

struct GenerateResult {
  Tensor latents;  // [N, 4, h, w], before the VAE (not divided by the scaling factor)
  Tensor images;   // [N, H, W, 3] in [0, 1]; undefined when not decoded
  StageSeconds seconds;
  bool finished_early = false;  // the callback said Finish: fewer steps than the schedule ran
};

}  // namespace sdxl::pipeline

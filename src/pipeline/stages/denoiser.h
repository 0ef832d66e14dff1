// The denoising loop shared by txt2img, img2img and the refiner: classifier-free guidance as
// one batched UNet call over [negative, positive], guidance_rescale, and the sampler's step.
#pragma once

#include <functional>

#include "models/unet/unet.h"
#include "samplers/scheduler.h"

namespace sdxl::pipeline {

struct Conditioning {
  Tensor context;      // [2B or B, 77, D]: negatives first under CFG
  Tensor text_embeds;  // [2B or B, P]
  Tensor time_ids;     // [2B or B, K]
  Tensor timestep_cond;  // [B, time_cond_proj_dim] for LCM-distilled UNets (never with CFG), else undefined
};

// diffusers' get_guidance_scale_embedding: w = guidance_scale - 1, scaled by 1000, as sines then
// cosines of `dim` / 2 frequencies, in float32; one row per image.
Tensor guidance_scale_embedding(double guidance_scale, int64_t dim, int64_t rows);

struct GuidanceSettings {
  double scale = 5.0;    // > 1 enables classifier-free guidance
  double rescale = 0.0;  // guidance_rescale (Lin et al. 2023)
  bool enabled() const { return scale > 1.0; }
};

// Called after each step with the step index (from 0) and the latents, which it may change
// (inpainting blends the known region back in here) or report (progress, previews); false
// stops the loop there (the latents reached are kept).
using LatentsHook = std::function<bool(size_t, Tensor&)>;

// What ControlNets add to step `step`'s UNet call on `model_input` (null: nothing).
using ControlFn = std::function<const models::ControlResiduals*(Arena&, size_t step, const Tensor& model_input, float t)>;

// Runs `timesteps` (a slice of the sampler's schedule) over `latents` [B, C, h, w] in place.
void denoise(const models::UNet2DConditionModel& unet, samplers::Scheduler& scheduler,
             const std::vector<double>& timesteps, const Conditioning& cond, const GuidanceSettings& guidance,
             Tensor& latents, const samplers::NoiseFn& noise, Arena& arena, const LatentsHook& after_step = {},
             const ControlFn& control = {});

// diffusers' rescale_noise_cfg: rescales each sample of `cfg` to the std of `text` and mixes.
void rescale_noise_cfg(float* cfg, const float* text, int64_t batch, int64_t per_sample, double rescale);

}  // namespace sdxl::pipeline

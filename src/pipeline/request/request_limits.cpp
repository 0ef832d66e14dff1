#include "pipeline/request/request_limits.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/memory.h"

namespace sdxl::pipeline {

void check_size(int64_t width, int64_t height, int64_t scale, const char* what, const char* parameter) {
  using L = RequestLimits;
  const auto fits = [&](int64_t side) { return side % scale == 0 && side >= L::kMinSide && side <= L::kMaxSide; };
  const char* at = parameter ? parameter : (fits(width) ? "height" : "width");
  SDXL_CHECK_PARAM(fits(width) && fits(height), InvalidArgument, at, "[limits] ", what, " must be multiples of ", scale,
                   " between ", L::kMinSide, " and ", L::kMaxSide, ", got ", width, "x", height);
}

namespace {

bool fraction(double v) { return v > 0.0 && v < 1.0; }

}  // namespace

void check_request(const GenerateRequest& r, int64_t scale) {
  using L = RequestLimits;
  const bool img2img = r.init_image.defined() || r.init_latents.defined();
  if (!img2img) check_size(r.width, r.height, scale, "width and height");
  if (r.init_image.defined()) {
    SDXL_CHECK_PARAM(r.init_image.rank() == 4 && r.init_image.dim(1) == 3, InvalidArgument, "init_image",
               "[limits] the init image must be [N, 3, H, W], got ", r.init_image.shape().to_string());
    check_size(r.init_image.dim(3), r.init_image.dim(2), scale, "the init image's size", "init_image");
  }
  if (r.init_latents.defined())
    SDXL_CHECK_PARAM(r.init_latents.rank() == 4, InvalidArgument, "init_latents", "[limits] init latents must be [N, C, h, w], got ",
               r.init_latents.shape().to_string());
  SDXL_CHECK_PARAM(!r.mask.defined() || r.init_image.defined(), InvalidArgument, "mask", "[limits] a mask needs an init image");
  if (r.mask.defined())
    SDXL_CHECK_PARAM(r.mask.rank() == 4 && r.mask.dim(1) == 1 && r.mask.dim(2) == r.init_image.dim(2) &&
                   r.mask.dim(3) == r.init_image.dim(3),
               InvalidArgument, "mask", "[limits] the mask ", r.mask.shape().to_string(), " does not match the image ",
               r.init_image.shape().to_string());
  SDXL_CHECK_PARAM(r.steps >= 1 && r.steps <= L::kMaxSteps, InvalidArgument, "steps", "[limits] steps must be between 1 and ",
             L::kMaxSteps, ", got ", r.steps);
  SDXL_CHECK_PARAM(r.prompts.num_images_per_prompt >= 1 && r.prompts.num_images_per_prompt <= L::kMaxImages, InvalidArgument, "images_per_prompt",
             "[limits] images per prompt must be between 1 and ", L::kMaxImages, ", got ", r.prompts.num_images_per_prompt);
  const int64_t prompts = r.prompts.prompt.is_list() ? static_cast<int64_t>(r.prompts.prompt.size()) : 1;
  SDXL_CHECK_PARAM(prompts * r.prompts.num_images_per_prompt <= L::kMaxImages, InvalidArgument, "images_per_prompt", "[limits] ", prompts,
             " prompts x ", r.prompts.num_images_per_prompt, " images each is more than ", L::kMaxImages, " images in one call");
  SDXL_CHECK_PARAM(std::isfinite(r.guidance.scale) && r.guidance.scale >= 0 && r.guidance.scale <= L::kMaxGuidance,
             InvalidArgument, "guidance_scale", "[limits] guidance scale must be a number between 0 and ", L::kMaxGuidance, ", got ",
             r.guidance.scale);
  SDXL_CHECK_PARAM(std::isfinite(r.guidance.rescale) && r.guidance.rescale >= 0 && r.guidance.rescale <= 1, InvalidArgument, "guidance_rescale",
             "[limits] guidance rescale must be between 0 and 1, got ", r.guidance.rescale);
  if (img2img && !r.denoising_start) {
    SDXL_CHECK_PARAM(r.strength > 0.0 && r.strength <= 1.0, InvalidArgument, "strength", "[limits] strength must be in (0, 1], got ",
               r.strength);
    // diffusers runs int(steps * strength) steps: none is no image, refused before it is queued.
    SDXL_CHECK_PARAM(static_cast<int64_t>(static_cast<double>(r.steps) * r.strength) >= 1, InvalidArgument, "strength", "[limits] strength ",
                     r.strength, " with ", r.steps, " steps leaves no denoising step; raise the strength or the steps");
  }
  SDXL_CHECK_PARAM(!r.denoising_start || fraction(*r.denoising_start), InvalidArgument, "denoising_start",
             "[limits] denoising_start must be in (0, 1), got ", r.denoising_start.value_or(0));
  SDXL_CHECK_PARAM(!r.denoising_end || fraction(*r.denoising_end), InvalidArgument, "denoising_end",
             "[limits] denoising_end must be in (0, 1), got ", r.denoising_end.value_or(0));
  SDXL_CHECK_PARAM(std::isfinite(r.aesthetic_score) && std::isfinite(r.negative_aesthetic_score), InvalidArgument, "aesthetic_score",
             "[limits] aesthetic scores must be finite numbers");
}

std::string MemoryEstimate::describe() const {
  char text[200];
  if (available_gib < 0)
    std::snprintf(text, sizeof text, "about %.1f GiB (weights %.1f, activations %.1f)", needed_gib(), weights_gib,
                  activations_gib);
  else
    std::snprintf(text, sizeof text, "about %.1f GiB (weights %.1f, activations %.1f), and %.1f GiB are available",
                  needed_gib(), weights_gib, activations_gib, available_gib);
  return text;
}

MemoryEstimate estimate_memory(const ModelFootprint& m, const GenerateRequest& r, int64_t images, bool one_shot) {
  // Calibrated on the real-size SDXL 1.0 (sdxl-bench, docs/PERFORMANCE.md), per megapixel of
  // output: a UNet forward's activations about 0.75 GiB per batch row (plus 0.25 GiB of
  // primitives and scratch), a whole VAE decode about 4 GiB per image (1 GiB in row bands), an
  // encode about 3 GiB. Tiny models scale down by their channel widths.
  const int64_t width = r.init_image.defined() ? r.init_image.dim(3) : r.width;
  const int64_t height = r.init_image.defined() ? r.init_image.dim(2) : r.height;
  const double megapixels = static_cast<double>(width) * static_cast<double>(height) / (1024.0 * 1024.0);
  const double unet_scale = static_cast<double>(m.unet_channels) / 320.0;
  const double vae_scale = static_cast<double>(m.vae_channels) / 512.0;
  const double model_rows = static_cast<double>(images) * (r.guidance.enabled() ? 2.0 : 1.0);
  const double unet_activations = 0.25 + 0.75 * model_rows * megapixels * unet_scale;
  double vae_activations = 0.0;
  if (r.decode) vae_activations = static_cast<double>(images) * megapixels * vae_scale * (r.vae_tiling ? 1.0 : 4.0);
  if (r.init_image.defined()) vae_activations = std::max(vae_activations, 3.0 * megapixels * vae_scale);

  MemoryEstimate e;
  e.available_gib = available_memory_gib();
  if (one_shot) {
    // The phases follow each other: text encoders, then the UNet, then the VAE.
    const double unet_phase = m.unet_gib + unet_activations, vae_phase = m.vae_gib + vae_activations;
    if (unet_phase >= vae_phase && unet_phase >= m.text_encoders_gib) {
      e.weights_gib = m.unet_gib;
      e.activations_gib = unet_activations;
    } else if (vae_phase >= m.text_encoders_gib) {
      e.weights_gib = m.vae_gib;
      e.activations_gib = vae_activations;
    } else {
      e.weights_gib = m.text_encoders_gib;
    }
  } else {
    e.weights_gib = m.loaded ? 0.0 : m.text_encoders_gib + m.unet_gib + m.vae_gib;
    e.activations_gib = std::max(unet_activations, vae_activations);
  }
  return e;
}

}  // namespace sdxl::pipeline

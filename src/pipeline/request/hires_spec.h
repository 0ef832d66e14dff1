// AUTOMATIC1111's hires fix as one request part: generate at the request's size, upscale (the
// latents, or the decoded image with Lanczos, Nearest or an ESRGAN model), then denoise again at
// the larger size as img2img (diffusers' rules: int(steps * strength) of a `steps` schedule, a
// fresh generator of the same seed). The exact semantics are ../shared/sdxl-ref's kind
// hires_txt2img; docs/ARCHITECTURE.md says where they differ from the webui's own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "pipeline/prompts/prompt_encoder.h"

namespace sdxl::pipeline {

struct HiresSpec {
  // What the client asked for: hr_scale, or hr_resize_x / hr_resize_y (0: from the other side).
  double scale = 2.0;
  int64_t resize_x = 0, resize_y = 0;
  // A latent mode, "Lanczos", "Nearest", "None" (a plain Lanczos resize), or a model's name; ""
  // is AUTOMATIC1111's unnamed default: "Latent", not written in the PNG text.
  std::string upscaler = "Latent";
  std::string effective_upscaler() const { return upscaler.empty() ? "Latent" : upscaler; }
  std::filesystem::path upscaler_model;       // the ESRGAN-family file when `upscaler` names one
  int64_t steps = 0;                          // hr_second_pass_steps; 0: the first pass's
  double denoising_strength = 0.7;
  std::string scheduler, sampler_name;        // empty: the first pass's
  nlohmann::json scheduler_overrides = nlohmann::json::object();
  std::optional<PromptArg> prompt, negative_prompt;  // hr_prompt / hr_negative_prompt; none: the first pass's
  std::optional<double> guidance_scale;       // hr_cfg; none: the first pass's
};

// AUTOMATIC1111's calculate_target_resolution for a first pass of width x height: the size the
// image is upscaled to and, when hr_resize_x and hr_resize_y set another aspect, the latent
// columns and rows cropped from it (half from each side) to reach it.
struct HiresPlan {
  int64_t upscale_width = 0, upscale_height = 0;
  int64_t truncate_x = 0, truncate_y = 0;  // in latent pixels
  // The second pass's size: the latents are upscale_* // 8 (the image an eighth finer).
  int64_t width() const { return 8 * (upscale_width / 8 - truncate_x); }
  int64_t height() const { return 8 * (upscale_height / 8 - truncate_y); }
};
HiresPlan hires_plan(const HiresSpec& spec, int64_t width, int64_t height);

// The spec's own values, each error naming its field ("hr_scale", "denoising_strength", ...):
// the upscaler is known, the sizes and steps within the request limits.
void check_hires_spec(const HiresSpec& spec, int64_t width, int64_t height);

}  // namespace sdxl::pipeline

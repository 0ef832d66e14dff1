#include "pipeline/request/hires_spec.h"

#include <cmath>

#include "core/error.h"
#include "pipeline/request/request_limits.h"
#include "pipeline/stages/hires_upscale.h"

namespace sdxl::pipeline {

HiresPlan hires_plan(const HiresSpec& spec, int64_t width, int64_t height) {
  HiresPlan plan;
  if (spec.resize_x == 0 && spec.resize_y == 0) {
    plan.upscale_width = static_cast<int64_t>(static_cast<double>(width) * spec.scale);
    plan.upscale_height = static_cast<int64_t>(static_cast<double>(height) * spec.scale);
  } else if (spec.resize_y == 0) {
    plan.upscale_width = spec.resize_x;
    plan.upscale_height = spec.resize_x * height / width;
  } else if (spec.resize_x == 0) {
    plan.upscale_width = spec.resize_y * width / height;
    plan.upscale_height = spec.resize_y;
  } else {
    // Another aspect: fill the requested box, then crop what sticks out (A1111's truncate_x/y).
    const double src_ratio = static_cast<double>(width) / static_cast<double>(height);
    const double dst_ratio = static_cast<double>(spec.resize_x) / static_cast<double>(spec.resize_y);
    if (src_ratio < dst_ratio) {
      plan.upscale_width = spec.resize_x;
      plan.upscale_height = spec.resize_x * height / width;
    } else {
      plan.upscale_width = spec.resize_y * width / height;
      plan.upscale_height = spec.resize_y;
    }
    plan.truncate_x = (plan.upscale_width - spec.resize_x) / 8;
    plan.truncate_y = (plan.upscale_height - spec.resize_y) / 8;
  }
  return plan;
}

void check_hires_spec(const HiresSpec& spec, int64_t width, int64_t height) {
  const std::string upscaler = spec.effective_upscaler();
  SDXL_CHECK_PARAM(latent_upscale_mode(upscaler) || is_builtin_pixel_upscaler(upscaler) || !spec.upscaler_model.empty(),
                   InvalidArgument, "hr_upscaler", "[hires] hr_upscaler '", spec.upscaler,
                   "' is not a latent mode, Lanczos, Nearest or an upscaler model");
  const bool by_size = spec.resize_x != 0 || spec.resize_y != 0;
  SDXL_CHECK_PARAM(by_size || (std::isfinite(spec.scale) && spec.scale >= 1.0 && spec.scale <= 4.0), InvalidArgument,
                   "hr_scale", "[hires] hr_scale ", spec.scale, " must be in [1, 4]");
  SDXL_CHECK_PARAM(spec.resize_x >= 0 && spec.resize_x <= RequestLimits::kMaxSide, InvalidArgument, "hr_resize_x",
                   "[hires] hr_resize_x ", spec.resize_x, " must be 0 (from hr_resize_y) or up to ", RequestLimits::kMaxSide);
  SDXL_CHECK_PARAM(spec.resize_y >= 0 && spec.resize_y <= RequestLimits::kMaxSide, InvalidArgument, "hr_resize_y",
                   "[hires] hr_resize_y ", spec.resize_y, " must be 0 (from hr_resize_x) or up to ", RequestLimits::kMaxSide);
  SDXL_CHECK_PARAM(spec.steps >= 0 && spec.steps <= RequestLimits::kMaxSteps, InvalidArgument, "hr_second_pass_steps",
                   "[hires] hr_second_pass_steps ", spec.steps, " must be 0 (the first pass's) to ", RequestLimits::kMaxSteps);
  SDXL_CHECK_PARAM(std::isfinite(spec.denoising_strength) && spec.denoising_strength > 0 && spec.denoising_strength <= 1,
                   InvalidArgument, "denoising_strength", "[hires] denoising_strength ", spec.denoising_strength,
                   " must be in (0, 1]");
  if (spec.guidance_scale)
    SDXL_CHECK_PARAM(std::isfinite(*spec.guidance_scale) && *spec.guidance_scale >= 0 &&
                         *spec.guidance_scale <= RequestLimits::kMaxGuidance,
                     InvalidArgument, "hr_cfg", "[hires] hr_cfg ", *spec.guidance_scale, " must be in [0, ",
                     RequestLimits::kMaxGuidance, "]");
  const HiresPlan plan = hires_plan(spec, width, height);
  const char* field = by_size ? (spec.resize_x != 0 ? "hr_resize_x" : "hr_resize_y") : "hr_scale";
  SDXL_CHECK_PARAM(plan.width() >= RequestLimits::kMinSide && plan.height() >= RequestLimits::kMinSide &&
                       plan.upscale_width <= RequestLimits::kMaxSide && plan.upscale_height <= RequestLimits::kMaxSide,
                   InvalidArgument, field, "[hires] ", width, "x", height, " upscaled to ", plan.width(), "x", plan.height(),
                   ": each side must be ", RequestLimits::kMinSide, " to ", RequestLimits::kMaxSide);
}

}  // namespace sdxl::pipeline

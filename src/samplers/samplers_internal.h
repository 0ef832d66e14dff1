// Shared by the sampler implementations; not part of the samplers' interface.
#pragma once

#include <cmath>
#include <memory>
#include <string>

#include "core/error.h"
#include "samplers/scheduler.h"

namespace sdxl::samplers {

// The denoised estimate x0 of k-diffusion style samplers, per element, in float32.
inline float predict_original(const std::string& prediction_type, float sample, float model_output, float sigma) {
  if (prediction_type == "epsilon") return sample - sigma * model_output;
  if (prediction_type == "v_prediction") {
    const float s2 = sigma * sigma + 1.0f;
    return model_output * (-sigma / std::sqrt(s2)) + sample / s2;
  }
  fail(ErrorCode::Unsupported, "[scheduler] prediction_type '", prediction_type, "' is not supported by this sampler");
}

std::unique_ptr<Scheduler> make_euler(const SchedulerSpec& spec, bool ancestral);
std::unique_ptr<Scheduler> make_dpm_solver(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_ddim(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_heun(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_lms(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_unipc(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_kdpm2(const SchedulerSpec& spec, bool ancestral);
std::unique_ptr<Scheduler> make_lcm(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_dpm_singlestep(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_deis(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_plms(const SchedulerSpec& spec);
std::unique_ptr<Scheduler> make_ddpm(const SchedulerSpec& spec);

}  // namespace sdxl::samplers

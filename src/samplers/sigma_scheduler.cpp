#include "samplers/sigma_scheduler.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sdxl::samplers {

SigmaScheduler::SigmaScheduler(const SchedulerSpec& spec) : spec_(spec) {
  spacing_ = spec.timestep_spacing.value_or("linspace");
  alphas_cumprod_ = alphas_cumprod_of(spec);
}

std::vector<double> SigmaScheduler::log_sigma_table() const {
  std::vector<double> logs;
  for (double s : sigma_table(alphas_cumprod_)) logs.push_back(to_f32(std::log(static_cast<float>(s))));
  return logs;
}

size_t SigmaScheduler::index_of(double t) const {
  std::vector<size_t> hits;
  for (size_t i = 0; i < timesteps_.size(); ++i)
    if (to_f32(timesteps_[i]) == to_f32(t)) hits.push_back(i);
  SDXL_CHECK(!hits.empty(), InvalidArgument, "[scheduler] timestep ", t, " is not in the schedule");
  return hits.size() > 1 ? hits[1] : hits[0];
}

size_t SigmaScheduler::index_of_first(double t) const {
  for (size_t i = 0; i < timesteps_.size(); ++i)
    if (to_f32(timesteps_[i]) == to_f32(t)) return i;
  fail(ErrorCode::InvalidArgument, "[scheduler] timestep ", t, " is not in the schedule");
}

size_t SigmaScheduler::step_index(double t) {
  if (!step_index_) step_index_ = index_of(t);
  return *step_index_;
}

std::vector<double> SigmaScheduler::spaced_sigmas(int64_t steps, std::vector<double>& timesteps, bool round_karras_t) const {
  SDXL_CHECK(steps >= 1, InvalidArgument, "[scheduler] steps must be >= 1");
  SDXL_CHECK(spec_.interpolation_type == "linear", Unsupported, "[scheduler] interpolation_type '",
             spec_.interpolation_type, "' is not supported");
  timesteps = spaced_timesteps(spacing_, spec_.num_train_timesteps, steps, spec_.steps_offset);
  const std::vector<double> table = sigma_table(alphas_cumprod_);
  std::vector<double> sigmas;
  for (double t : timesteps) sigmas.push_back(interp(t, table));
  if (spec_.use_karras_sigmas) {
    const double lo = spec_.sigma_min.value_or(sigmas.back()), hi = spec_.sigma_max.value_or(sigmas.front());
    sigmas = karras_sigmas(lo, hi, steps);
    const std::vector<double> logs = log_sigma_table();
    timesteps.clear();
    for (double s : sigmas) {
      const double t = sigma_to_t(s, logs);
      timesteps.push_back(round_karras_t ? std::nearbyint(t) : to_f32(t));
    }
  }
  return sigmas;
}

double SigmaScheduler::init_noise_sigma() const {
  const float max_sigma = to_f32(*std::max_element(sigmas_.begin(), sigmas_.end()));
  if (spacing_ == "linspace" || spacing_ == "trailing") return max_sigma;
  return std::sqrt(max_sigma * max_sigma + 1.0f);
}

Tensor SigmaScheduler::scale_model_input(const Tensor& sample, double t) {
  const float sigma = to_f32(sigmas_[step_index(t)]);
  const float divisor = std::sqrt(sigma * sigma + 1.0f);
  Tensor out = Tensor::empty(sample.shape(), DType::F32);
  for (int64_t i = 0; i < sample.numel(); ++i) out.data<float>()[i] = sample.data<float>()[i] / divisor;
  return out;
}

Tensor SigmaScheduler::add_noise(const Tensor& original, const Tensor& noise, double t) const {
  const float sigma = to_f32(sigmas_[add_noise_index(t)]);
  Tensor out = Tensor::empty(original.shape(), DType::F32);
  for (int64_t i = 0; i < original.numel(); ++i)
    out.data<float>()[i] = original.data<float>()[i] + noise.data<float>()[i] * sigma;
  return out;
}

}  // namespace sdxl::samplers

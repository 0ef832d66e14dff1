// What the sigma-based (k-diffusion style) schedulers share: the sigma table, the step index
// found from the first timestep seen, and add_noise.
#pragma once

#include <optional>

#include "samplers/noise_schedule.h"
#include "samplers/scheduler.h"

namespace sdxl::samplers {

class SigmaScheduler : public Scheduler {
 public:
  explicit SigmaScheduler(const SchedulerSpec& spec);
  Tensor add_noise(const Tensor& original, const Tensor& noise, double t) const override;
  // add_noise's index for t: Euler takes the first match; the second-order schedulers, whose
  // timesteps repeat, take the second.
  virtual size_t add_noise_index(double t) const { return index_of_first(t); }
  double init_noise_sigma() const override;
  Tensor scale_model_input(const Tensor& sample, double t) override;

 protected:
  // diffusers' _init_step_index: the index of t in timesteps, the second one if t repeats
  // (so a schedule entered midway, as img2img does, does not skip a sigma).
  size_t step_index(double t);
  size_t index_of(double t) const;
  size_t index_of_first(double t) const;  // add_noise's rule: the first match
  std::vector<double> log_sigma_table() const;  // float32 logs of the training sigmas
  // The k-diffusion schedules' shared set_timesteps: spaced timesteps, sigmas interpolated at
  // them (or Karras sigmas and their fractional timesteps, rounded if `round_karras_t`).
  // Returns the sigmas (float64, before the trailing zero) and fills `timesteps`.
  std::vector<double> spaced_sigmas(int64_t steps, std::vector<double>& timesteps, bool round_karras_t) const;

  SchedulerSpec spec_;
  std::string spacing_;
  std::optional<size_t> step_index_;
};

}  // namespace sdxl::samplers

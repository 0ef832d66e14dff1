// What DPM-Solver++ and UniPC share (diffusers' multistep schedulers): the schedule with its
// extra final sigma, alpha/sigma/lambda of a sigma, add_noise, and an identity model input.
#pragma once

#include "samplers/sigma_scheduler.h"

namespace sdxl::samplers {

struct AlphaSigma {
  float alpha, sigma, lambda;  // alpha_t, sigma_t and lambda_t = log(alpha_t) - log(sigma_t), in float32
};
AlphaSigma alpha_sigma(float sigma);

// diffusers' convert_model_output for DPM-Solver++: the data prediction x0 of `model_output` at
// a sample whose noise level is `s` (epsilon, v_prediction or sample prediction).
Tensor data_prediction(const std::string& prediction_type, const Tensor& sample, const Tensor& model_output, const AlphaSigma& s);

class MultistepScheduler : public SigmaScheduler {
 public:
  using SigmaScheduler::SigmaScheduler;
  double init_noise_sigma() const override { return 1.0; }
  Tensor scale_model_input(const Tensor& sample, double) override { return sample.clone(); }
  Tensor add_noise(const Tensor& original, const Tensor& noise, double t) const override;

 protected:
  // Integer timesteps over steps + 1 points without the last ('linspace', 'leading') or
  // 'trailing'; sigmas interpolated (or Karras, over the whole training range), with the
  // training schedule's first sigma (or the last Karras sigma) appended.
  void set_multistep_schedule(int64_t steps);
};

}  // namespace sdxl::samplers

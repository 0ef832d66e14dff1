// EulerDiscreteScheduler (SDXL's default) and EulerAncestralDiscreteScheduler.
#include <cmath>

#include "core/error.h"
#include "samplers/samplers_internal.h"
#include "samplers/sigma_scheduler.h"

namespace sdxl::samplers {
namespace {

class EulerScheduler : public SigmaScheduler {
 public:
  EulerScheduler(const SchedulerSpec& spec, bool ancestral) : SigmaScheduler(spec), ancestral_(ancestral) {
    SDXL_CHECK(spec.interpolation_type == "linear", Unsupported, "[scheduler] interpolation_type '",
               spec.interpolation_type, "' is not supported");
    SDXL_CHECK(!(ancestral && spec.use_karras_sigmas), Unsupported,
               "[scheduler] EulerAncestralDiscreteScheduler has no Karras sigmas in diffusers 0.25");
  }

  void set_timesteps(int64_t steps) override {
    SDXL_CHECK(steps >= 1, InvalidArgument, "[scheduler] steps must be >= 1");
    timesteps_ = spaced_timesteps(spacing_, spec_.num_train_timesteps, steps, spec_.steps_offset);
    const std::vector<double> table = sigma_table(alphas_cumprod_);
    std::vector<double> sigmas;
    for (double t : timesteps_) sigmas.push_back(interp(t, table));
    if (spec_.use_karras_sigmas) {
      const double lo = spec_.sigma_min.value_or(sigmas.back()), hi = spec_.sigma_max.value_or(sigmas.front());
      sigmas = karras_sigmas(lo, hi, steps);
      const std::vector<double> logs = log_sigma_table();
      timesteps_.clear();
      for (double s : sigmas) timesteps_.push_back(to_f32(sigma_to_t(s, logs)));
    }
    sigmas_.clear();
    for (double s : sigmas) sigmas_.push_back(to_f32(s));
    sigmas_.push_back(0.0);
    step_index_.reset();
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn& noise) override {
    const size_t i = step_index(t);
    const float sigma = to_f32(sigmas_[i]);
    const float sigma_next = to_f32(sigmas_[i + 1]);
    const int64_t n = sample.numel();
    const float* x = sample.data<float>();
    const float* m = model_output.data<float>();
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    float* y = out.data<float>();
    if (!ancestral_) {
      // diffusers draws this noise even when s_churn = 0 leaves it unused: the generator advances.
      std::vector<float> unused(static_cast<size_t>(n));
      if (noise) noise(unused.data(), n);
      const float dt = sigma_next - sigma;
      for (int64_t k = 0; k < n; ++k) {
        const float pred = predict_original(spec_.prediction_type, x[k], m[k], sigma);
        const float derivative = (x[k] - pred) / sigma;
        y[k] = x[k] + derivative * dt;
      }
    } else {
      const float up = std::sqrt(sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next) / (sigma * sigma));
      const float down = std::sqrt(sigma_next * sigma_next - up * up);
      const float dt = down - sigma;
      std::vector<float> z(static_cast<size_t>(n));
      SDXL_CHECK(static_cast<bool>(noise), InvalidArgument, "[scheduler] Euler a needs a noise source");
      for (int64_t k = 0; k < n; ++k) {
        const float pred = predict_original(spec_.prediction_type, x[k], m[k], sigma);
        y[k] = x[k] + (x[k] - pred) / sigma * dt;
      }
      noise(z.data(), n);
      for (int64_t k = 0; k < n; ++k) y[k] = y[k] + z[static_cast<size_t>(k)] * up;
    }
    ++*step_index_;
    return out;
  }

 private:
  bool ancestral_;
};

}  // namespace

std::unique_ptr<Scheduler> make_euler(const SchedulerSpec& spec, bool ancestral) {
  return std::make_unique<EulerScheduler>(spec, ancestral);
}

}  // namespace sdxl::samplers

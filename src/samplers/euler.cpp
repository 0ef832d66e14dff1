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
    SDXL_CHECK(!(ancestral && spec.use_karras_sigmas), Unsupported,
               "[scheduler] EulerAncestralDiscreteScheduler has no Karras sigmas in diffusers 0.25");
  }

  void set_timesteps(int64_t steps) override {
    const std::vector<double> sigmas = spaced_sigmas(steps, timesteps_, /*round_karras_t=*/false);
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
      float up = std::sqrt(sigma_next * sigma_next * (sigma * sigma - sigma_next * sigma_next) / (sigma * sigma));
      // k-diffusion's eta scales the fresh noise (never past sigma_next); 1 is diffusers' step.
      if (spec_.ancestral_eta != 1.0) up = std::min(sigma_next, static_cast<float>(spec_.ancestral_eta) * up);
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

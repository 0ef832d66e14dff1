// DDIMScheduler (eta = 0 by default, as the SDXL pipeline calls it).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "samplers/noise_schedule.h"
#include "samplers/samplers_internal.h"

namespace sdxl::samplers {
namespace {

class DdimScheduler : public Scheduler {
 public:
  explicit DdimScheduler(const SchedulerSpec& spec) : spec_(spec) {
    alphas_cumprod_ = alphas_cumprod_of(spec);
    final_alpha_cumprod_ = spec.set_alpha_to_one ? 1.0f : to_f32(alphas_cumprod_[0]);
  }

  double init_noise_sigma() const override { return 1.0; }
  Tensor scale_model_input(const Tensor& sample, double) override { return sample.clone(); }

  void set_timesteps(int64_t steps) override {
    SDXL_CHECK(steps >= 1 && steps <= spec_.num_train_timesteps, InvalidArgument, "[scheduler] DDIM steps must be in [1, ",
               spec_.num_train_timesteps, "]");
    steps_ = steps;
    const std::string spacing = spec_.timestep_spacing.value_or("leading");
    if (spacing == "linspace") {
      const std::vector<double> points = numpy_linspace(0.0, static_cast<double>(spec_.num_train_timesteps - 1), steps);
      timesteps_.clear();
      for (auto it = points.rbegin(); it != points.rend(); ++it) timesteps_.push_back(std::nearbyint(*it));
    } else {
      timesteps_ = spaced_timesteps(spacing, spec_.num_train_timesteps, steps, spec_.steps_offset);
    }
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn& noise) override {
    const int64_t timestep = static_cast<int64_t>(t);
    const int64_t prev = timestep - spec_.num_train_timesteps / steps_;
    SDXL_CHECK(timestep >= 0 && timestep < spec_.num_train_timesteps, InvalidArgument, "[scheduler] timestep ", t,
               " is out of range");
    const float a = to_f32(alphas_cumprod_[static_cast<size_t>(timestep)]);
    const float a_prev = prev >= 0 ? to_f32(alphas_cumprod_[static_cast<size_t>(prev)]) : final_alpha_cumprod_;
    const float beta = 1.0f - a, beta_prev = 1.0f - a_prev;
    const float variance = (beta_prev / beta) * (1.0f - a / a_prev);
    const float std_dev = static_cast<float>(spec_.eta) * std::sqrt(variance);
    const float direction_scale = std::sqrt(1.0f - a_prev - std_dev * std_dev);
    const int64_t n = sample.numel();
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    for (int64_t k = 0; k < n; ++k) {
      const float x = sample.data<float>()[k], m = model_output.data<float>()[k];
      float x0, eps;
      if (spec_.prediction_type == "epsilon") {
        x0 = (x - std::sqrt(beta) * m) / std::sqrt(a);
        eps = m;
      } else if (spec_.prediction_type == "sample") {
        x0 = m;
        eps = (x - std::sqrt(a) * x0) / std::sqrt(beta);
      } else {
        x0 = std::sqrt(a) * x - std::sqrt(beta) * m;
        eps = std::sqrt(a) * m + std::sqrt(beta) * x;
      }
      if (spec_.clip_sample) {
        const float r = static_cast<float>(spec_.clip_sample_range);
        x0 = std::clamp(x0, -r, r);
      }
      out.data<float>()[k] = std::sqrt(a_prev) * x0 + direction_scale * eps;
    }
    if (spec_.eta > 0) {
      SDXL_CHECK(static_cast<bool>(noise), InvalidArgument, "[scheduler] DDIM with eta > 0 needs a noise source");
      std::vector<float> z(static_cast<size_t>(n));
      noise(z.data(), n);
      for (int64_t k = 0; k < n; ++k) out.data<float>()[k] += std_dev * z[static_cast<size_t>(k)];
    }
    return out;
  }

  Tensor add_noise(const Tensor& original, const Tensor& noise, double t) const override {
    return noised_at_timestep(alphas_cumprod_, original, noise, t);
  }

 private:
  SchedulerSpec spec_;
  float final_alpha_cumprod_ = 1.0f;
  int64_t steps_ = 1;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddim(const SchedulerSpec& spec) { return std::make_unique<DdimScheduler>(spec); }

}  // namespace sdxl::samplers

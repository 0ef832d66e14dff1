// DDPMScheduler (diffusers 0.25.1): ancestral sampling of the DDPM posterior, one Gaussian draw
// per step above timestep 0, with the "fixed_small" (default), "fixed_small_log" or
// "fixed_large" variance.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "samplers/noise_schedule.h"
#include "samplers/samplers_internal.h"

namespace sdxl::samplers {
namespace {

class DdpmScheduler : public Scheduler {
 public:
  explicit DdpmScheduler(const SchedulerSpec& spec) : spec_(spec) {
    const auto& v = spec.variance_type;
    SDXL_CHECK(v == "fixed_small" || v == "fixed_small_log" || v == "fixed_large", Unsupported, "[scheduler] DDPMScheduler: variance_type '",
               v, "' is not supported (fixed_small, fixed_small_log, fixed_large are)");
    alphas_cumprod_ = alphas_cumprod_of(spec);
  }

  double init_noise_sigma() const override { return 1.0; }
  Tensor scale_model_input(const Tensor& sample, double) override { return sample.clone(); }

  void set_timesteps(int64_t steps) override {
    const int64_t train = spec_.num_train_timesteps;
    SDXL_CHECK(steps >= 1 && steps <= train, InvalidArgument, "[scheduler] DDPM steps must be in [1, ", train, "]");
    steps_ = steps;
    const std::string spacing = spec_.timestep_spacing.value_or("leading");
    if (spacing == "linspace") {
      const std::vector<double> points = numpy_linspace(0.0, static_cast<double>(train - 1), steps);
      timesteps_.clear();
      for (auto it = points.rbegin(); it != points.rend(); ++it) timesteps_.push_back(std::nearbyint(*it));
    } else {
      timesteps_ = spaced_timesteps(spacing, train, steps, spec_.steps_offset);
    }
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn& noise) override {
    const int64_t timestep = static_cast<int64_t>(t), prev = timestep - spec_.num_train_timesteps / steps_;
    SDXL_CHECK(timestep >= 0 && timestep < spec_.num_train_timesteps, InvalidArgument, "[scheduler] timestep ", t,
               " is out of range");
    const float a = to_f32(alphas_cumprod_[static_cast<size_t>(timestep)]);
    const float a_prev = prev >= 0 ? to_f32(alphas_cumprod_[static_cast<size_t>(prev)]) : 1.0f;
    const float b = 1.0f - a, b_prev = 1.0f - a_prev;
    const float current_alpha = a / a_prev, current_beta = 1.0f - current_alpha;
    const float x0_coeff = (std::sqrt(a_prev) * current_beta) / b;
    const float sample_coeff = std::sqrt(current_alpha) * b_prev / b;
    const int64_t n = sample.numel();
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    float* y = out.data<float>();
    for (int64_t k = 0; k < n; ++k) {
      const float x = sample.data<float>()[k], m = model_output.data<float>()[k];
      float x0;
      if (spec_.prediction_type == "epsilon") x0 = (x - std::sqrt(b) * m) / std::sqrt(a);
      else if (spec_.prediction_type == "sample") x0 = m;
      else x0 = std::sqrt(a) * x - std::sqrt(b) * m;
      if (spec_.clip_sample) {
        const float r = static_cast<float>(spec_.clip_sample_range);
        x0 = std::clamp(x0, -r, r);
      }
      y[k] = x0_coeff * x0 + sample_coeff * x;
    }
    if (timestep > 0) {
      SDXL_CHECK(static_cast<bool>(noise), InvalidArgument, "[scheduler] DDPM needs a noise source");
      std::vector<float> z(static_cast<size_t>(n));
      noise(z.data(), n);
      const float scale = noise_scale(a, a_prev, current_beta);
      for (int64_t k = 0; k < n; ++k) y[k] += scale * z[static_cast<size_t>(k)];
    }
    return out;
  }

  Tensor add_noise(const Tensor& original, const Tensor& noise, double t) const override {
    return noised_at_timestep(alphas_cumprod_, original, noise, t);
  }

 private:
  // The standard deviation the posterior's noise is scaled by (_get_variance, then its root).
  float noise_scale(float a, float a_prev, float current_beta) const {
    float variance = std::max((1.0f - a_prev) / (1.0f - a) * current_beta, 1e-20f);
    if (spec_.variance_type == "fixed_small_log") return std::exp(0.5f * std::log(variance));
    if (spec_.variance_type == "fixed_large") variance = current_beta;
    return std::sqrt(variance);
  }

  SchedulerSpec spec_;
  int64_t steps_ = 1;
};

}  // namespace

std::unique_ptr<Scheduler> make_ddpm(const SchedulerSpec& spec) { return std::make_unique<DdpmScheduler>(spec); }

}  // namespace sdxl::samplers

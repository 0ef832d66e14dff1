// PNDMScheduler with skip_prk_steps (PLMS, diffusers 0.25.1): a linear multistep method over
// the noise prediction, started by one improved-Euler step that calls the model twice at the
// second timestep, so N steps take N + 1 model calls.
#include <cmath>
#include <deque>

#include "core/error.h"
#include "samplers/noise_schedule.h"
#include "samplers/samplers_internal.h"

namespace sdxl::samplers {
namespace {

class PlmsScheduler : public Scheduler {
 public:
  explicit PlmsScheduler(const SchedulerSpec& spec) : spec_(spec) {
    SDXL_CHECK(spec.skip_prk_steps, Unsupported,
               "[scheduler] PNDMScheduler's Runge-Kutta warm-up (skip_prk_steps false) is not supported; the plms "
               "sampler sets skip_prk_steps");
    SDXL_CHECK(spec.prediction_type == "epsilon" || spec.prediction_type == "v_prediction", Unsupported,
               "[scheduler] PNDMScheduler: prediction_type '", spec.prediction_type, "' is not supported");
    alphas_cumprod_ = alphas_cumprod_of(spec);
    final_alpha_cumprod_ = spec.set_alpha_to_one ? 1.0f : to_f32(alphas_cumprod_[0]);
  }

  double init_noise_sigma() const override { return 1.0; }
  Tensor scale_model_input(const Tensor& sample, double) override { return sample.clone(); }

  void set_timesteps(int64_t steps) override {
    const int64_t train = spec_.num_train_timesteps;
    SDXL_CHECK(steps >= 1 && steps <= train, InvalidArgument, "[scheduler] PLMS steps must be in [1, ", train, "]");
    steps_ = steps;
    // Ascending, as diffusers' _timesteps.
    std::vector<double> t;
    const std::string spacing = spec_.timestep_spacing.value_or("leading");
    if (spacing == "linspace") {
      for (double v : numpy_linspace(0.0, static_cast<double>(train - 1), steps)) t.push_back(std::nearbyint(v));
    } else {
      t = spaced_timesteps(spacing, train, steps, spec_.steps_offset);
      std::reverse(t.begin(), t.end());
    }
    // [t0 .. t(N-2), t(N-2), t(N-1)] reversed: the second-highest timestep is called twice.
    std::vector<double> plms(t.begin(), t.end() - 1);
    if (t.size() >= 2) plms.push_back(t[t.size() - 2]);
    plms.push_back(t.back());
    timesteps_.assign(plms.rbegin(), plms.rend());
    ets_.clear();
    counter_ = 0;
    start_sample_ = Tensor();
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn&) override {
    const int64_t ratio = spec_.num_train_timesteps / steps_;
    int64_t timestep = static_cast<int64_t>(t), prev_timestep = timestep - ratio;
    if (counter_ != 1) {
      if (ets_.size() > 3) ets_.pop_front();
      ets_.push_back(model_output.clone());
    } else {
      prev_timestep = timestep;  // the repeated call: redo the first step with the averaged slope
      timestep += ratio;
    }
    const int64_t n = sample.numel();
    Tensor eps = Tensor::empty(sample.shape(), DType::F32);
    float* e = eps.data<float>();
    const float* m = model_output.data<float>();
    const float* x = sample.data<float>();
    const size_t k = ets_.size();
    auto et = [&](size_t back) { return ets_[k - back].data<float>(); };
    if (k == 1 && counter_ == 0) {
      for (int64_t j = 0; j < n; ++j) e[j] = m[j];
      start_sample_ = sample.clone();
    } else if (k == 1 && counter_ == 1) {
      const float* e1 = et(1);
      for (int64_t j = 0; j < n; ++j) e[j] = (m[j] + e1[j]) / 2.0f;
      x = start_sample_.data<float>();
    } else if (k == 2) {
      const float *e1 = et(1), *e2 = et(2);
      for (int64_t j = 0; j < n; ++j) e[j] = (3.0f * e1[j] - e2[j]) / 2.0f;
    } else if (k == 3) {
      const float *e1 = et(1), *e2 = et(2), *e3 = et(3);
      for (int64_t j = 0; j < n; ++j) e[j] = (23.0f * e1[j] - 16.0f * e2[j] + 5.0f * e3[j]) / 12.0f;
    } else {
      const float *e1 = et(1), *e2 = et(2), *e3 = et(3), *e4 = et(4);
      for (int64_t j = 0; j < n; ++j)
        e[j] = (1.0f / 24.0f) * (55.0f * e1[j] - 59.0f * e2[j] + 37.0f * e3[j] - 9.0f * e4[j]);
    }
    Tensor out = previous_sample(x, timestep, prev_timestep, e, sample.shape());
    if (counter_ == 1) start_sample_ = Tensor();
    ++counter_;
    return out;
  }

  Tensor add_noise(const Tensor& original, const Tensor& noise, double t) const override {
    return noised_at_timestep(alphas_cumprod_, original, noise, t);
  }

 private:
  // PNDM's formula (9): the DDIM step from timestep to prev_timestep with the noise estimate e.
  Tensor previous_sample(const float* x, int64_t timestep, int64_t prev_timestep, float* e, const Shape& shape) const {
    SDXL_CHECK(timestep >= 0 && timestep < spec_.num_train_timesteps, InvalidArgument, "[scheduler] timestep ", timestep,
               " is out of range");
    const float a = to_f32(alphas_cumprod_[static_cast<size_t>(timestep)]);
    const float a_prev = prev_timestep >= 0 ? to_f32(alphas_cumprod_[static_cast<size_t>(prev_timestep)]) : final_alpha_cumprod_;
    const float b = 1.0f - a, b_prev = 1.0f - a_prev;
    const int64_t n = shape.numel();
    if (spec_.prediction_type == "v_prediction")
      for (int64_t j = 0; j < n; ++j) e[j] = std::sqrt(a) * e[j] + std::sqrt(b) * x[j];
    const float sample_coeff = std::sqrt(a_prev / a);
    const float denominator = a * std::sqrt(b_prev) + std::sqrt(a * b * a_prev);
    Tensor out = Tensor::empty(shape, DType::F32);
    for (int64_t j = 0; j < n; ++j) out.data<float>()[j] = sample_coeff * x[j] - (a_prev - a) * e[j] / denominator;
    return out;
  }

  SchedulerSpec spec_;
  float final_alpha_cumprod_ = 1.0f;
  int64_t steps_ = 1;
  int64_t counter_ = 0;
  std::deque<Tensor> ets_;  // the last four noise predictions, oldest first
  Tensor start_sample_;     // the first step's sample, which the repeated call steps from again
};

}  // namespace

std::unique_ptr<Scheduler> make_plms(const SchedulerSpec& spec) { return std::make_unique<PlmsScheduler>(spec); }

}  // namespace sdxl::samplers

// LCMScheduler (diffusers 0.25.1): the consistency models' multi-step sampler. Its timesteps come
// from the original_inference_steps grid (k = train_steps / original, timesteps j*k - 1), ignoring
// timestep_spacing and steps_offset; each step predicts x0, applies the boundary condition
// (c_skip, c_out) and, except on the last step, re-noises it to the next timestep with one fresh
// draw of noise.
#include <cmath>

#include "samplers/lcm.h"

#include "core/error.h"
#include "samplers/noise_schedule.h"
#include "samplers/samplers_internal.h"

namespace sdxl::samplers {

LcmBoundary lcm_boundary(int64_t timestep, double timestep_scaling) {
  const double scaled = static_cast<double>(timestep) * timestep_scaling;
  return {static_cast<float>(0.25 / (scaled * scaled + 0.25)), static_cast<float>(scaled / std::sqrt(scaled * scaled + 0.25))};
}

namespace {

class LcmScheduler : public Scheduler {
 public:
  explicit LcmScheduler(const SchedulerSpec& spec) : spec_(spec) {
    alphas_cumprod_ = alphas_cumprod_of(spec);
    final_alpha_cumprod_ = spec.set_alpha_to_one ? 1.0f : to_f32(alphas_cumprod_[0]);
    SDXL_CHECK(spec.original_inference_steps >= 1 && spec.original_inference_steps <= spec.num_train_timesteps,
               InvalidArgument, "[scheduler] LCM original_inference_steps must be in [1, ", spec.num_train_timesteps,
               "], got ", spec.original_inference_steps);
    if (spec.prediction_type != "epsilon" && spec.prediction_type != "sample" && spec.prediction_type != "v_prediction")
      fail(ErrorCode::Unsupported, "[scheduler] LCM prediction_type '", spec.prediction_type, "' is not supported");
  }

  double init_noise_sigma() const override { return 1.0; }
  Tensor scale_model_input(const Tensor& sample, double) override { return sample.clone(); }

  void set_timesteps(int64_t steps) override {
    const int64_t original = spec_.original_inference_steps;
    SDXL_CHECK(steps >= 1 && steps <= original, InvalidArgument, "[scheduler] LCM takes 1 to ", original,
               " steps (its original_inference_steps), got ", steps);
    const int64_t k = spec_.num_train_timesteps / original;
    std::vector<double> grid;  // j*k - 1 for j = original..1: descending
    for (int64_t j = original; j >= 1; --j) grid.push_back(static_cast<double>(j * k - 1));
    timesteps_.clear();
    for (int64_t i = 0; i < steps; ++i) {
      // numpy: floor(linspace(0, original, steps, endpoint=False))
      const auto index = static_cast<size_t>(std::floor(static_cast<double>(i) * static_cast<double>(original) /
                                                        static_cast<double>(steps)));
      timesteps_.push_back(grid[index]);
    }
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn& noise) override {
    size_t index = 0;
    while (index < timesteps_.size() && timesteps_[index] != t) ++index;
    SDXL_CHECK(index < timesteps_.size(), InvalidArgument, "[scheduler] timestep ", t, " is not in the LCM schedule");
    const bool last = index + 1 == timesteps_.size();
    const int64_t timestep = static_cast<int64_t>(t);
    const int64_t next = last ? timestep : static_cast<int64_t>(timesteps_[index + 1]);
    const float a = to_f32(alphas_cumprod_[static_cast<size_t>(timestep)]);
    const float a_next = next >= 0 ? to_f32(alphas_cumprod_[static_cast<size_t>(next)]) : final_alpha_cumprod_;
    const float sqrt_a = std::sqrt(a), sqrt_b = std::sqrt(1.0f - a);
    // The boundary condition at t: c_skip -> 0 and c_out -> 1 away from t = 0.
    const auto [c_skip, c_out] = lcm_boundary(timestep, spec_.timestep_scaling);
    const int64_t n = sample.numel();
    Tensor denoised = Tensor::empty(sample.shape(), DType::F32);
    for (int64_t k = 0; k < n; ++k) {
      const float x = sample.data<float>()[k], m = model_output.data<float>()[k];
      float x0;
      if (spec_.prediction_type == "epsilon")
        x0 = (x - sqrt_b * m) / sqrt_a;
      else if (spec_.prediction_type == "sample")
        x0 = m;
      else
        x0 = sqrt_a * x - sqrt_b * m;
      if (spec_.clip_sample) {
        const float r = static_cast<float>(spec_.clip_sample_range);
        x0 = std::min(std::max(x0, -r), r);
      }
      denoised.data<float>()[k] = c_out * x0 + c_skip * x;
    }
    if (last) return denoised;
    SDXL_CHECK(static_cast<bool>(noise), InvalidArgument, "[scheduler] LCM needs a noise source");
    std::vector<float> z(static_cast<size_t>(n));
    noise(z.data(), n);
    const float sqrt_a_next = std::sqrt(a_next), sqrt_b_next = std::sqrt(1.0f - a_next);
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    for (int64_t k = 0; k < n; ++k)
      out.data<float>()[k] = sqrt_a_next * denoised.data<float>()[k] + sqrt_b_next * z[static_cast<size_t>(k)];
    return out;
  }

  // DDPM's forward process: sqrt(a) x0 + sqrt(1 - a) noise.
  Tensor add_noise(const Tensor& original, const Tensor& noise, double t) const override {
    return noised_at_timestep(alphas_cumprod_, original, noise, t);
  }

 private:
  SchedulerSpec spec_;
  float final_alpha_cumprod_ = 1.0f;
};

}  // namespace

std::unique_ptr<Scheduler> make_lcm(const SchedulerSpec& spec) { return std::make_unique<LcmScheduler>(spec); }

}  // namespace sdxl::samplers

// DPMSolverMultistepScheduler (DPM++ 2M / 3M, their Karras and SDE variants), diffusers 0.25.1.
// One departure: v0.25.1's third-order update has no SDE branch and raises, so a 3M SDE run of
// five steps or more crashes there; we take the branch later diffusers added for it.
#include <cmath>
#include <deque>

#include "core/error.h"
#include "samplers/samplers_internal.h"
#include "samplers/multistep_scheduler.h"

namespace sdxl::samplers {
namespace {

class DpmSolverScheduler : public MultistepScheduler {
 public:
  explicit DpmSolverScheduler(const SchedulerSpec& spec) : MultistepScheduler(spec) {
    const auto& a = spec.algorithm_type;
    SDXL_CHECK(a == "dpmsolver++" || a == "sde-dpmsolver++", Unsupported, "[scheduler] algorithm_type '", a,
               "' is not supported (dpmsolver++, sde-dpmsolver++ are)");
    SDXL_CHECK(spec.solver_type == "midpoint" || spec.solver_type == "heun", Unsupported, "[scheduler] solver_type '",
               spec.solver_type, "' is not supported");
    SDXL_CHECK(spec.solver_order >= 1 && spec.solver_order <= 3, Unsupported, "[scheduler] solver_order ",
               spec.solver_order, " is not supported (1, 2 or 3)");
    SDXL_CHECK(spec.prediction_type == "epsilon" || spec.prediction_type == "v_prediction" ||
                   spec.prediction_type == "sample",
               Unsupported, "[scheduler] prediction_type '", spec.prediction_type, "' is not supported");
  }

  void set_timesteps(int64_t steps) override {
    set_multistep_schedule(steps);
    outputs_.clear();
    lower_order_nums_ = 0;
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn& noise) override {
    const size_t i = step_index(t);
    const size_t count = timesteps_.size();
    const bool final_step = i == count - 1 && (spec_.euler_at_final || (spec_.lower_order_final && count < 15));
    const bool second_to_last = i + 2 == count && spec_.lower_order_final && count < 15;
    const int64_t n = sample.numel();

    // convert_model_output: the data prediction x0
    const AlphaSigma s0 = alpha_sigma(to_f32(sigmas_[i]));
    Tensor x0 = data_prediction(spec_.prediction_type, sample, model_output, s0);
    outputs_.push_back(x0);
    if (static_cast<int64_t>(outputs_.size()) > spec_.solver_order) outputs_.pop_front();

    const bool sde = spec_.algorithm_type == "sde-dpmsolver++";
    std::vector<float> z;
    if (sde) {
      SDXL_CHECK(static_cast<bool>(noise), InvalidArgument, "[scheduler] DPM++ SDE needs a noise source");
      z.resize(static_cast<size_t>(n));
      noise(z.data(), n);
    }
    const AlphaSigma st = alpha_sigma(to_f32(sigmas_[i + 1]));
    const float h = st.lambda - s0.lambda;
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    float* y = out.data<float>();
    const float* x = sample.data<float>();
    const float* d0 = x0.data<float>();
    const bool first_order = spec_.solver_order == 1 || lower_order_nums_ < 1 || final_step;
    const bool second_order = !first_order && (spec_.solver_order == 2 || lower_order_nums_ < 2 || second_to_last);
    if (first_order) {
      if (!sde) {
        const float c1 = st.sigma / s0.sigma, c2 = st.alpha * (std::exp(-h) - 1.0f);
        for (int64_t k = 0; k < n; ++k) y[k] = c1 * x[k] - c2 * d0[k];
      } else {
        const float c1 = st.sigma / s0.sigma * std::exp(-h), c2 = st.alpha * (1.0f - std::exp(-2.0f * h));
        const float c3 = st.sigma * std::sqrt(1.0f - std::exp(-2.0f * h));
        for (int64_t k = 0; k < n; ++k) y[k] = c1 * x[k] + c2 * d0[k] + c3 * z[static_cast<size_t>(k)];
      }
    } else if (second_order) {
      const AlphaSigma s1 = alpha_sigma(to_f32(sigmas_[i - 1]));
      const float h0 = s0.lambda - s1.lambda;
      const float r0 = h0 / h;
      const float* m1 = outputs_[outputs_.size() - 2].data<float>();
      const bool midpoint = spec_.solver_type == "midpoint";
      for (int64_t k = 0; k < n; ++k) {
        const float D0 = d0[k], D1 = (1.0f / r0) * (d0[k] - m1[k]);
        if (!sde) {
          const float e = std::exp(-h) - 1.0f;
          y[k] = midpoint ? (st.sigma / s0.sigma) * x[k] - (st.alpha * e) * D0 - 0.5f * (st.alpha * e) * D1
                          : (st.sigma / s0.sigma) * x[k] - (st.alpha * e) * D0 + (st.alpha * (e / h + 1.0f)) * D1;
        } else {
          const float e2 = 1.0f - std::exp(-2.0f * h);
          const float base = (st.sigma / s0.sigma * std::exp(-h)) * x[k] + (st.alpha * e2) * D0;
          const float second = midpoint ? 0.5f * (st.alpha * e2) * D1 : (st.alpha * (e2 / (-2.0f * h) + 1.0f)) * D1;
          y[k] = base + second + st.sigma * std::sqrt(1.0f - std::exp(-2.0f * h)) * z[static_cast<size_t>(k)];
        }
      }
    } else {
      third_order_update(i, s0, st, sample, y, z);
    }
    if (lower_order_nums_ < spec_.solver_order) ++lower_order_nums_;
    ++*step_index_;
    return out;
  }

 private:
  // The third-order multistep update over the last three data predictions (solver_type does
  // not enter: diffusers' third order has one form).
  void third_order_update(size_t i, const AlphaSigma& s0, const AlphaSigma& st, const Tensor& sample, float* y,
                          const std::vector<float>& z) const {
    const AlphaSigma s1 = alpha_sigma(to_f32(sigmas_[i - 1])), s2 = alpha_sigma(to_f32(sigmas_[i - 2]));
    const float h = st.lambda - s0.lambda, h0 = s0.lambda - s1.lambda, h1 = s1.lambda - s2.lambda;
    const float r0 = h0 / h, r1 = h1 / h;
    const size_t last = outputs_.size() - 1;
    const float *m0 = outputs_[last].data<float>(), *m1 = outputs_[last - 1].data<float>(),
                *m2 = outputs_[last - 2].data<float>();
    const float* x = sample.data<float>();
    const bool sde = spec_.algorithm_type == "sde-dpmsolver++";
    const float e = std::exp(-h) - 1.0f, e2 = 1.0f - std::exp(-2.0f * h);
    const float c_x = sde ? st.sigma / s0.sigma * std::exp(-h) : st.sigma / s0.sigma;
    const float c_d0 = sde ? st.alpha * e2 : -(st.alpha * e);
    const float c_d1 = sde ? st.alpha * (e2 / (-2.0f * h) + 1.0f) : st.alpha * (e / h + 1.0f);
    const float c_d2 = sde ? st.alpha * ((e2 - 2.0f * h) / ((2.0f * h) * (2.0f * h)) - 0.5f)
                           : -(st.alpha * ((e + h) / (h * h) - 0.5f));
    const float c_z = sde ? st.sigma * std::sqrt(1.0f - std::exp(-2.0f * h)) : 0.0f;
    for (int64_t k = 0; k < sample.numel(); ++k) {
      const float D1_0 = (1.0f / r0) * (m0[k] - m1[k]), D1_1 = (1.0f / r1) * (m1[k] - m2[k]);
      const float D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1);
      const float D2 = (1.0f / (r0 + r1)) * (D1_0 - D1_1);
      float v = c_x * x[k] + c_d0 * m0[k] + c_d1 * D1 + c_d2 * D2;
      if (sde) v += c_z * z[static_cast<size_t>(k)];
      y[k] = v;
    }
  }

  std::deque<Tensor> outputs_;  // the last solver_order data predictions, oldest first
  int64_t lower_order_nums_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_dpm_solver(const SchedulerSpec& spec) { return std::make_unique<DpmSolverScheduler>(spec); }

}  // namespace sdxl::samplers

// DPMSolverSinglestepScheduler (DPM-Solver++(2S), diffusers 0.25.1): each second-order step goes
// from the sample of the step before, through the intermediate timestep the previous model call
// was made at; the timesteps are always linspace (timestep_spacing is ignored).
#include <cmath>
#include <deque>

#include "core/error.h"
#include "samplers/multistep_scheduler.h"
#include "samplers/samplers_internal.h"

namespace sdxl::samplers {
namespace {

class DpmSinglestepScheduler : public MultistepScheduler {
 public:
  explicit DpmSinglestepScheduler(const SchedulerSpec& spec) : MultistepScheduler(spec) {
    SDXL_CHECK(spec.algorithm_type == "dpmsolver++", Unsupported, "[scheduler] DPMSolverSinglestepScheduler: algorithm_type '",
               spec.algorithm_type, "' is not supported (dpmsolver++ is)");
    SDXL_CHECK(spec.solver_type == "midpoint" || spec.solver_type == "heun", Unsupported, "[scheduler] solver_type '",
               spec.solver_type, "' is not supported");
    SDXL_CHECK(spec.solver_order == 1 || spec.solver_order == 2, Unsupported, "[scheduler] DPMSolverSinglestepScheduler: solver_order ",
               spec.solver_order, " is not supported (1 or 2)");
    spacing_ = "linspace";
  }

  void set_timesteps(int64_t steps) override {
    set_multistep_schedule(steps);
    outputs_.clear();
    start_sample_ = Tensor();
    // get_order_list with lower_order_final (forced on for an uneven count): 1, 2, 1, 2, ... (1 last if odd).
    orders_.clear();
    for (int64_t i = 0; i < steps; ++i) orders_.push_back(spec_.solver_order == 1 ? 1 : static_cast<int>(i % 2) + 1);
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn&) override {
    const size_t i = step_index(t);
    const int64_t n = sample.numel();
    const AlphaSigma s0 = alpha_sigma(to_f32(sigmas_[i]));
    Tensor x0 = data_prediction(spec_.prediction_type, sample, model_output, s0);
    outputs_.push_back(x0);
    if (static_cast<int64_t>(outputs_.size()) > spec_.solver_order) outputs_.pop_front();
    // An img2img start may land on a second-order step with one prediction: it runs first order.
    int order = i < orders_.size() ? orders_[i] : 1;
    if (static_cast<int>(outputs_.size()) < order) order = static_cast<int>(outputs_.size());
    if (order == 1) start_sample_ = sample;

    const AlphaSigma st = alpha_sigma(to_f32(sigmas_[i + 1]));
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    float* y = out.data<float>();
    const float* x = start_sample_.data<float>();
    const float* m0 = outputs_.back().data<float>();
    if (order == 1) {
      const float h = st.lambda - s0.lambda;
      const float c1 = st.sigma / s0.sigma, c2 = st.alpha * (std::exp(-h) - 1.0f);
      for (int64_t k = 0; k < n; ++k) y[k] = c1 * x[k] - c2 * m0[k];
    } else {
      // From the sample at s1 (the step before) over [s1, t], with the prediction at s0 in between.
      const AlphaSigma s1 = alpha_sigma(to_f32(sigmas_[i - 1]));
      const float h = st.lambda - s1.lambda, h0 = s0.lambda - s1.lambda;
      const float r0 = h0 / h;
      const float* m1 = outputs_[outputs_.size() - 2].data<float>();
      const float e = std::exp(-h) - 1.0f;
      const bool midpoint = spec_.solver_type == "midpoint";
      for (int64_t k = 0; k < n; ++k) {
        const float D0 = m1[k], D1 = (1.0f / r0) * (m0[k] - m1[k]);
        y[k] = midpoint ? (st.sigma / s1.sigma) * x[k] - (st.alpha * e) * D0 - 0.5f * (st.alpha * e) * D1
                        : (st.sigma / s1.sigma) * x[k] - (st.alpha * e) * D0 + (st.alpha * (e / h + 1.0f)) * D1;
      }
    }
    ++*step_index_;
    return out;
  }

 private:
  std::deque<Tensor> outputs_;  // the last solver_order data predictions, oldest first
  Tensor start_sample_;         // the sample a second-order step starts from
  std::vector<int> orders_;
};

}  // namespace

std::unique_ptr<Scheduler> make_dpm_singlestep(const SchedulerSpec& spec) {
  return std::make_unique<DpmSinglestepScheduler>(spec);
}

}  // namespace sdxl::samplers

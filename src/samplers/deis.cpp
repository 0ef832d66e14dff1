// DEISMultistepScheduler (log-rho DEIS, diffusers 0.25.1): a multistep solver over the noise
// prediction, its coefficients the integrals of Lagrange polynomials in log(sigma / alpha).
#include <cmath>
#include <deque>

#include "core/error.h"
#include "samplers/multistep_scheduler.h"
#include "samplers/samplers_internal.h"

namespace sdxl::samplers {
namespace {

// Integrate[(log(t) - log(c)) / (log(b) - log(c)), {t}]
float integral_2(float t, float b, float c) {
  return t * (-std::log(c) + std::log(t) - 1.0f) / (std::log(b) - std::log(c));
}

// Integrate[(log(t) - log(c))(log(t) - log(d)) / ((log(b) - log(c))(log(b) - log(d))), {t}]
float integral_3(float t, float b, float c, float d) {
  const float lt = std::log(t), lc = std::log(c), ld = std::log(d), lb = std::log(b);
  const float numerator = t * (lc * (ld - lt + 1.0f) - ld * lt + ld + lt * lt - 2.0f * lt + 2.0f);
  return numerator / ((lb - lc) * (lb - ld));
}

class DeisScheduler : public MultistepScheduler {
 public:
  explicit DeisScheduler(const SchedulerSpec& spec) : MultistepScheduler(spec) {
    SDXL_CHECK(spec.solver_order >= 1 && spec.solver_order <= 3, Unsupported, "[scheduler] DEIS solver_order ",
               spec.solver_order, " is not supported (1, 2 or 3)");
  }

  void set_timesteps(int64_t steps) override {
    set_multistep_schedule(steps);
    outputs_.clear();
    lower_order_nums_ = 0;
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn&) override {
    const size_t i = step_index(t);
    const size_t count = timesteps_.size();
    const bool final_step = i == count - 1 && spec_.lower_order_final && count < 15;
    const bool second_to_last = i + 2 == count && spec_.lower_order_final && count < 15;
    const int64_t n = sample.numel();

    // convert_model_output: through the data prediction back to a noise prediction
    const AlphaSigma s0 = alpha_sigma(to_f32(sigmas_[i]));
    Tensor eps = data_prediction(spec_.prediction_type, sample, model_output, s0);
    for (int64_t k = 0; k < n; ++k) eps.data<float>()[k] = (sample.data<float>()[k] - s0.alpha * eps.data<float>()[k]) / s0.sigma;
    outputs_.push_back(eps);
    if (static_cast<int64_t>(outputs_.size()) > spec_.solver_order) outputs_.pop_front();

    const AlphaSigma st = alpha_sigma(to_f32(sigmas_[i + 1]));
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    float* y = out.data<float>();
    const float* x = sample.data<float>();
    const size_t last = outputs_.size() - 1;
    const float* m0 = outputs_[last].data<float>();
    const bool first_order = spec_.solver_order == 1 || lower_order_nums_ < 1 || final_step;
    const bool second_order = !first_order && (spec_.solver_order == 2 || lower_order_nums_ < 2 || second_to_last);
    if (first_order) {
      const float h = st.lambda - s0.lambda;
      const float c1 = st.alpha / s0.alpha, c2 = st.sigma * (std::exp(h) - 1.0f);
      for (int64_t k = 0; k < n; ++k) y[k] = c1 * x[k] - c2 * m0[k];
    } else {
      const AlphaSigma s1 = alpha_sigma(to_f32(sigmas_[i - 1]));
      const float rho_t = st.sigma / st.alpha, rho_0 = s0.sigma / s0.alpha, rho_1 = s1.sigma / s1.alpha;
      const float* m1 = outputs_[last - 1].data<float>();
      if (second_order) {
        const float c1 = integral_2(rho_t, rho_0, rho_1) - integral_2(rho_0, rho_0, rho_1);
        const float c2 = integral_2(rho_t, rho_1, rho_0) - integral_2(rho_0, rho_1, rho_0);
        for (int64_t k = 0; k < n; ++k) y[k] = st.alpha * (x[k] / s0.alpha + c1 * m0[k] + c2 * m1[k]);
      } else {
        const AlphaSigma s2 = alpha_sigma(to_f32(sigmas_[i - 2]));
        const float rho_2 = s2.sigma / s2.alpha;
        const float* m2 = outputs_[last - 2].data<float>();
        const float c1 = integral_3(rho_t, rho_0, rho_1, rho_2) - integral_3(rho_0, rho_0, rho_1, rho_2);
        const float c2 = integral_3(rho_t, rho_1, rho_2, rho_0) - integral_3(rho_0, rho_1, rho_2, rho_0);
        const float c3 = integral_3(rho_t, rho_2, rho_0, rho_1) - integral_3(rho_0, rho_2, rho_0, rho_1);
        for (int64_t k = 0; k < n; ++k) y[k] = st.alpha * (x[k] / s0.alpha + c1 * m0[k] + c2 * m1[k] + c3 * m2[k]);
      }
    }
    if (lower_order_nums_ < spec_.solver_order) ++lower_order_nums_;
    ++*step_index_;
    return out;
  }

 private:
  std::deque<Tensor> outputs_;  // the last solver_order noise predictions, oldest first
  int64_t lower_order_nums_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_deis(const SchedulerSpec& spec) { return std::make_unique<DeisScheduler>(spec); }

}  // namespace sdxl::samplers

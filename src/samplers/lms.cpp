// LMSDiscreteScheduler: linear multistep over the last (up to 4) derivatives, diffusers 0.25.1.
#include <cmath>
#include <deque>

#include "core/error.h"
#include "samplers/samplers_internal.h"
#include "samplers/sigma_scheduler.h"

namespace sdxl::samplers {
namespace {

constexpr int kOrder = 4;  // diffusers' default `order` argument of step()

class LmsScheduler : public SigmaScheduler {
 public:
  using SigmaScheduler::SigmaScheduler;

  void set_timesteps(int64_t steps) override {
    const std::vector<double> sigmas = spaced_sigmas(steps, timesteps_, /*round_karras_t=*/false);
    sigmas_.clear();
    for (double s : sigmas) sigmas_.push_back(to_f32(s));
    sigmas_.push_back(0.0);
    derivatives_.clear();
    step_index_.reset();
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn&) override {
    const size_t i = step_index(t);
    const float sigma = to_f32(sigmas_[i]);
    const int64_t n = sample.numel();
    Tensor derivative = Tensor::empty(sample.shape(), DType::F32);
    const float* x = sample.data<float>();
    const float* m = model_output.data<float>();
    for (int64_t k = 0; k < n; ++k)
      derivative.data<float>()[k] = (x[k] - predict_original(spec_.prediction_type, x[k], m[k], sigma)) / sigma;
    derivatives_.push_back(derivative);
    if (derivatives_.size() > static_cast<size_t>(kOrder)) derivatives_.pop_front();
    const int order = std::min<int>(static_cast<int>(i) + 1, kOrder);
    std::vector<float> coeffs;
    for (int current = 0; current < order; ++current) coeffs.push_back(static_cast<float>(coefficient(order, i, current)));
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    for (int64_t k = 0; k < n; ++k) {
      // sum(coeff * derivative for coeff, derivative in zip(coeffs, reversed(derivatives)))
      float total = 0.0f;
      for (int c = 0; c < order; ++c)
        total = total + coeffs[static_cast<size_t>(c)] * derivatives_[derivatives_.size() - 1 - static_cast<size_t>(c)].data<float>()[k];
      out.data<float>()[k] = x[k] + total;
    }
    ++*step_index_;
    return out;
  }

 private:
  // The integral over [sigma_t, sigma_{t+1}] of the Lagrange basis polynomial of `current`
  // through the last `order` sigmas (scipy's quad in diffusers; the polynomial's degree is at
  // most 3, so 5-point Gauss-Legendre is exact).
  double coefficient(int order, size_t t, int current) const {
    auto basis = [&](double tau) {
      double product = 1.0;
      for (int k = 0; k < order; ++k) {
        if (k == current) continue;
        const double sk = to_f32(sigmas_[t - static_cast<size_t>(k)]);
        const double sc = to_f32(sigmas_[t - static_cast<size_t>(current)]);
        product *= (tau - sk) / (sc - sk);
      }
      return product;
    };
    static const double nodes[5] = {-0.9061798459386640, -0.5384693101056831, 0.0, 0.5384693101056831, 0.9061798459386640};
    static const double weights[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889, 0.4786286704993665,
                                      0.2369268850561891};
    const double a = to_f32(sigmas_[t]), b = to_f32(sigmas_[t + 1]);
    double sum = 0.0;
    for (int q = 0; q < 5; ++q) sum += weights[q] * basis(0.5 * (b - a) * nodes[q] + 0.5 * (a + b));
    return 0.5 * (b - a) * sum;
  }

  std::deque<Tensor> derivatives_;
};

}  // namespace

std::unique_ptr<Scheduler> make_lms(const SchedulerSpec& spec) { return std::make_unique<LmsScheduler>(spec); }

}  // namespace sdxl::samplers

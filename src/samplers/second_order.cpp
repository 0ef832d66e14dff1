// The second-order k-diffusion samplers, two model calls per step: HeunDiscreteScheduler,
// KDPM2DiscreteScheduler and KDPM2AncestralDiscreteScheduler (diffusers 0.25.1).
#include <cmath>
#include <limits>

#include "core/error.h"
#include "samplers/samplers_internal.h"
#include "samplers/sigma_scheduler.h"

namespace sdxl::samplers {
namespace {

// [a0, a1, a1, a2, a2, ..., a_last]: torch.cat([x[:1], x[1:].repeat_interleave(2), x[-1:]])
std::vector<double> interleave(const std::vector<double>& x, bool with_last) {
  std::vector<double> out{x.front()};
  for (size_t i = 1; i < x.size(); ++i) {
    out.push_back(x[i]);
    out.push_back(x[i]);
  }
  if (with_last) out.push_back(x.back());
  return out;
}

// torch.lerp(log a, log b, 0.5).exp() in float32, torch's formula for weight >= 0.5 included
// (its infinities and NaN where a sigma is zero match torch's).
float log_midpoint(float a, float b) {
  const float la = std::log(a), lb = std::log(b);
  return std::exp(lb - (lb - la) * 0.5f);
}

class SecondOrderBase : public SigmaScheduler {
 public:
  using SigmaScheduler::SigmaScheduler;
  int order() const override { return 2; }
  size_t add_noise_index(double t) const override { return index_of(t); }

 protected:
  bool first_order() const { return !stored_.defined(); }
  Tensor stored_;  // the sample of the first half-step, while the second is pending
};

class HeunScheduler : public SecondOrderBase {
 public:
  using SecondOrderBase::SecondOrderBase;

  void set_timesteps(int64_t steps) override {
    std::vector<double> t;
    std::vector<double> sigmas = spaced_sigmas(steps, t, false);
    sigmas.push_back(0.0);
    for (auto& s : sigmas) s = to_f32(s);
    sigmas_ = interleave(std::vector<double>(sigmas.begin(), sigmas.end() - 1), false);
    sigmas_.push_back(0.0);
    timesteps_ = interleave(t, false);
    stored_ = Tensor();
    step_index_.reset();
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn&) override {
    const size_t i = step_index(t);
    const bool first = first_order();
    const float sigma = to_f32(first ? sigmas_[i] : sigmas_[i - 1]);
    const float sigma_next = to_f32(first ? sigmas_[i + 1] : sigmas_[i]);
    const float sigma_input = first ? sigma : sigma_next;
    const int64_t n = sample.numel();
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    const float* x = sample.data<float>();
    const float* m = model_output.data<float>();
    if (first) {
      derivative_ = Tensor::empty(sample.shape(), DType::F32);
      dt_ = sigma_next - sigma;
      for (int64_t k = 0; k < n; ++k) {
        const float d = (x[k] - predict_original(spec_.prediction_type, x[k], m[k], sigma_input)) / sigma;
        derivative_.data<float>()[k] = d;
        out.data<float>()[k] = x[k] + d * dt_;
      }
      stored_ = sample.clone();
    } else {
      const float* x0 = stored_.data<float>();
      for (int64_t k = 0; k < n; ++k) {
        const float d2 = (x[k] - predict_original(spec_.prediction_type, x[k], m[k], sigma_input)) / sigma_next;
        const float d = (derivative_.data<float>()[k] + d2) / 2.0f;
        out.data<float>()[k] = x0[k] + d * dt_;
      }
      stored_ = Tensor();
    }
    ++*step_index_;
    return out;
  }

 private:
  Tensor derivative_;
  float dt_ = 0.0f;
};

class Kdpm2Scheduler : public SecondOrderBase {
 public:
  Kdpm2Scheduler(const SchedulerSpec& spec, bool ancestral) : SecondOrderBase(spec), ancestral_(ancestral) {}

  void set_timesteps(int64_t steps) override {
    std::vector<double> t;
    std::vector<double> sigmas = spaced_sigmas(steps, t, /*round_karras_t=*/ancestral_);
    if (!ancestral_ && spec_.use_karras_sigmas) {
      // KDPM2 keeps the spaced timesteps with Karras sigmas (diffusers 0.25.1 does not convert them).
      t = spaced_timesteps(spacing_, spec_.num_train_timesteps, steps, spec_.steps_offset);
    }
    std::vector<double> s;
    for (double v : sigmas) s.push_back(to_f32(v));
    s.push_back(0.0);
    const size_t m = s.size();
    std::vector<double> interpol(m), up(m, 0.0), down(m, 0.0);
    if (!ancestral_) {
      for (size_t i = 0; i < m; ++i)
        interpol[i] = log_midpoint(to_f32(s[i]), to_f32(i == 0 ? s[m - 1] : s[i - 1]));
    } else {
      for (size_t i = 0; i < m; ++i) {
        const float sf = to_f32(s[i]), next = i + 1 < m ? to_f32(s[i + 1]) : 0.0f;
        const float u = std::sqrt(next * next * (sf * sf - next * next) / (sf * sf));
        up[i] = u;
        down[i] = i + 1 < m ? std::sqrt(next * next - u * u) : 0.0f;
      }
      for (size_t i = 0; i < m; ++i) interpol[i] = i + 2 >= m ? 0.0 : log_midpoint(to_f32(s[i]), to_f32(down[i]));
    }
    const std::vector<double> logs = log_sigma_table();
    std::vector<double> t_interpol;
    for (double v : interpol) t_interpol.push_back(to_f32(sigma_to_t(std::isnan(v) ? 0.0 : v, logs)));
    sigmas_ = interleave(s, true);
    interpol_ = interleave(interpol, true);
    up_ = interleave(up, true);
    down_ = interleave(down, true);
    timesteps_ = {t.front()};
    for (size_t i = 1; i < t.size(); ++i) {
      timesteps_.push_back(ancestral_ ? t_interpol[i - 1] : t_interpol[i]);
      timesteps_.push_back(t[i]);
    }
    stored_ = Tensor();
    step_index_.reset();
  }

  Tensor scale_model_input(const Tensor& sample, double t) override {
    const size_t i = step_index(t);
    const float sigma = to_f32(first_order() ? sigmas_[i] : (ancestral_ ? interpol_[i - 1] : interpol_[i]));
    const float divisor = std::sqrt(sigma * sigma + 1.0f);
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    for (int64_t k = 0; k < sample.numel(); ++k) out.data<float>()[k] = sample.data<float>()[k] / divisor;
    return out;
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn& noise) override {
    const size_t i = step_index(t);
    const bool first = first_order();
    const int64_t n = sample.numel();
    std::vector<float> z;
    if (ancestral_) {
      SDXL_CHECK(static_cast<bool>(noise), InvalidArgument, "[scheduler] KDPM2 a needs a noise source");
      z.resize(static_cast<size_t>(n));
      noise(z.data(), n);  // drawn on every call, used on the second half-step only
    }
    float sigma, sigma_interpol, target;
    if (!ancestral_) {
      sigma = to_f32(first ? sigmas_[i] : sigmas_[i - 1]);
      sigma_interpol = to_f32(first ? interpol_[i + 1] : interpol_[i]);
      target = first ? sigma_interpol : to_f32(sigmas_[i]);
    } else {
      sigma = to_f32(first ? sigmas_[i] : sigmas_[i - 1]);
      sigma_interpol = to_f32(first ? interpol_[i] : interpol_[i - 1]);
      target = first ? sigma_interpol : to_f32(down_[i - 1]);
    }
    const float sigma_up = to_f32(ancestral_ ? (first ? up_[i] : up_[i - 1]) : 0.0);
    const float sigma_input = first ? sigma : sigma_interpol;
    const float dt = target - sigma;
    const float* x = sample.data<float>();
    const float* m = model_output.data<float>();
    Tensor out = Tensor::empty(sample.shape(), DType::F32);
    const float* base = first ? x : stored_.data<float>();
    const float divisor = first ? sigma : sigma_interpol;
    for (int64_t k = 0; k < n; ++k) {
      const float d = (x[k] - predict_original(spec_.prediction_type, x[k], m[k], sigma_input)) / divisor;
      float v = base[k] + d * dt;
      if (ancestral_ && !first) v = v + z[static_cast<size_t>(k)] * sigma_up;
      out.data<float>()[k] = v;
    }
    stored_ = first ? sample.clone() : Tensor();
    ++*step_index_;
    return out;
  }

 private:
  bool ancestral_;
  std::vector<double> interpol_, up_, down_;
};

}  // namespace

std::unique_ptr<Scheduler> make_heun(const SchedulerSpec& spec) { return std::make_unique<HeunScheduler>(spec); }
std::unique_ptr<Scheduler> make_kdpm2(const SchedulerSpec& spec, bool ancestral) {
  return std::make_unique<Kdpm2Scheduler>(spec, ancestral);
}

}  // namespace sdxl::samplers

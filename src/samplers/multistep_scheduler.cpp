#include "samplers/multistep_scheduler.h"

#include <cmath>

#include "core/error.h"

namespace sdxl::samplers {

AlphaSigma alpha_sigma(float sigma) {
  const float alpha = 1.0f / std::sqrt(sigma * sigma + 1.0f);
  const float s = sigma * alpha;
  return {alpha, s, std::log(alpha) - std::log(s)};
}

Tensor data_prediction(const std::string& prediction_type, const Tensor& sample, const Tensor& model_output, const AlphaSigma& s) {
  Tensor x0 = Tensor::empty(sample.shape(), DType::F32);
  const float* x = sample.data<float>();
  const float* m = model_output.data<float>();
  float* out = x0.data<float>();
  const int64_t n = sample.numel();
  if (prediction_type == "epsilon") {
    for (int64_t k = 0; k < n; ++k) out[k] = (x[k] - s.sigma * m[k]) / s.alpha;
  } else if (prediction_type == "v_prediction") {
    for (int64_t k = 0; k < n; ++k) out[k] = s.alpha * x[k] - s.sigma * m[k];
  } else {
    for (int64_t k = 0; k < n; ++k) out[k] = m[k];
  }
  return x0;
}

void MultistepScheduler::set_multistep_schedule(int64_t steps) {
  SDXL_CHECK(steps >= 1, InvalidArgument, "[scheduler] steps must be >= 1");
  const int64_t train = spec_.num_train_timesteps;  // lambda_min_clipped = -inf clips nothing
  std::vector<double> t;
  if (spacing_ == "linspace") {
    const std::vector<double> points = numpy_linspace(0.0, static_cast<double>(train - 1), steps + 1);
    for (int64_t i = steps; i >= 1; --i) t.push_back(std::nearbyint(points[static_cast<size_t>(i)]));
  } else if (spacing_ == "leading") {
    const int64_t ratio = train / (steps + 1);
    for (int64_t i = steps; i >= 1; --i) t.push_back(static_cast<double>(i * ratio + spec_.steps_offset));
  } else if (spacing_ == "trailing") {
    const double ratio = static_cast<double>(train) / static_cast<double>(steps);
    for (double v = static_cast<double>(train); v > 0; v -= ratio) t.push_back(std::nearbyint(v) - 1);
  } else {
    fail(ErrorCode::Unsupported, "[scheduler] timestep_spacing '", spacing_, "' is not supported");
  }
  const std::vector<double> table = sigma_table(alphas_cumprod_);
  std::vector<double> sigmas;
  if (spec_.use_karras_sigmas) {
    sigmas = karras_sigmas(table.front(), table.back(), steps);
    const std::vector<double> logs = log_sigma_table();
    t.clear();
    for (double s : sigmas) t.push_back(std::nearbyint(sigma_to_t(s, logs)));
    sigmas.push_back(sigmas.back());
  } else {
    for (double v : t) sigmas.push_back(interp(v, table));
    sigmas.push_back(table.front());
  }
  timesteps_ = t;
  sigmas_.clear();
  for (double s : sigmas) sigmas_.push_back(to_f32(s));
  step_index_.reset();
}

Tensor MultistepScheduler::add_noise(const Tensor& original, const Tensor& noise, double t) const {
  // diffusers: the index of t (the second if it repeats), or the last step when t is absent
  size_t index = timesteps_.size() - 1;
  std::vector<size_t> hits;
  for (size_t k = 0; k < timesteps_.size(); ++k)
    if (timesteps_[k] == t) hits.push_back(k);
  if (!hits.empty()) index = hits.size() > 1 ? hits[1] : hits[0];
  const AlphaSigma a = alpha_sigma(to_f32(sigmas_[index]));
  Tensor out = Tensor::empty(original.shape(), DType::F32);
  for (int64_t k = 0; k < original.numel(); ++k)
    out.data<float>()[k] = a.alpha * original.data<float>()[k] + a.sigma * noise.data<float>()[k];
  return out;
}

}  // namespace sdxl::samplers

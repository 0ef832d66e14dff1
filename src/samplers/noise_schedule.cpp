#include "samplers/noise_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sdxl::samplers {

float to_f32(double v) { return static_cast<float>(v); }

Tensor noised_at_timestep(const std::vector<double>& alphas_cumprod, const Tensor& original, const Tensor& noise, double t) {
  SDXL_CHECK(t >= 0 && t < static_cast<double>(alphas_cumprod.size()), InvalidArgument, "[scheduler] timestep ", t,
             " is out of range");
  const float a = to_f32(alphas_cumprod[static_cast<size_t>(t)]);
  const float sqrt_a = std::sqrt(a), sqrt_b = std::sqrt(1.0f - a);
  Tensor out = Tensor::empty(original.shape(), DType::F32);
  for (int64_t k = 0; k < original.numel(); ++k)
    out.data<float>()[k] = sqrt_a * original.data<float>()[k] + sqrt_b * noise.data<float>()[k];
  return out;
}

std::vector<double> alphas_cumprod_of(const SchedulerSpec& spec) {
  const int64_t n = spec.num_train_timesteps;
  std::vector<float> betas(static_cast<size_t>(n));
  if (!spec.trained_betas.empty()) {
    SDXL_CHECK(static_cast<int64_t>(spec.trained_betas.size()) == n, InvalidArgument, "[scheduler] trained_betas has ",
               spec.trained_betas.size(), " entries, num_train_timesteps is ", n);
    for (int64_t i = 0; i < n; ++i) betas[static_cast<size_t>(i)] = to_f32(spec.trained_betas[static_cast<size_t>(i)]);
  } else if (spec.beta_schedule == "linear" || spec.beta_schedule == "scaled_linear") {
    // torch.linspace in float32: from the start for the first half, from the end for the rest.
    const bool scaled = spec.beta_schedule == "scaled_linear";
    const float start = to_f32(scaled ? std::sqrt(spec.beta_start) : spec.beta_start);
    const float end = to_f32(scaled ? std::sqrt(spec.beta_end) : spec.beta_end);
    const float step = n > 1 ? (end - start) / static_cast<float>(n - 1) : 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      float v = i < n / 2 ? start + step * static_cast<float>(i) : end - step * static_cast<float>(n - i - 1);
      betas[static_cast<size_t>(i)] = scaled ? v * v : v;
    }
  } else if (spec.beta_schedule == "squaredcos_cap_v2") {
    auto alpha_bar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
    for (int64_t i = 0; i < n; ++i) {
      const double t1 = static_cast<double>(i) / static_cast<double>(n), t2 = static_cast<double>(i + 1) / static_cast<double>(n);
      betas[static_cast<size_t>(i)] = to_f32(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
    }
  } else {
    fail(ErrorCode::Unsupported, "[scheduler] beta_schedule '", spec.beta_schedule, "' is not supported");
  }
  SDXL_CHECK(!spec.rescale_betas_zero_snr, Unsupported, "[scheduler] rescale_betas_zero_snr is not supported yet");
  // torch.cumprod accumulates float32 input in double and stores float32.
  std::vector<double> out(static_cast<size_t>(n));
  double product = 1.0;
  for (int64_t i = 0; i < n; ++i) {
    product *= static_cast<double>(1.0f - betas[static_cast<size_t>(i)]);
    out[static_cast<size_t>(i)] = to_f32(product);
  }
  return out;
}

std::vector<double> sigma_table(const std::vector<double>& alphas_cumprod) {
  std::vector<double> sigmas;
  sigmas.reserve(alphas_cumprod.size());
  for (double a : alphas_cumprod) {
    const float af = to_f32(a);
    sigmas.push_back(std::sqrt((1.0f - af) / af));  // float32 tensor arithmetic
  }
  return sigmas;
}

std::vector<double> spaced_timesteps(const std::string& spacing, int64_t train_steps, int64_t steps, int64_t offset) {
  std::vector<double> t;
  if (spacing == "linspace") {
    for (int64_t i = 0; i < steps; ++i) {
      const double v = steps == 1 ? 0.0 : static_cast<double>(train_steps - 1) * static_cast<double>(i) / static_cast<double>(steps - 1);
      t.push_back(to_f32(v));
    }
    std::reverse(t.begin(), t.end());
  } else if (spacing == "leading") {
    const int64_t ratio = train_steps / steps;
    for (int64_t i = steps - 1; i >= 0; --i) t.push_back(static_cast<double>(i * ratio + offset));
  } else if (spacing == "trailing") {
    const double ratio = static_cast<double>(train_steps) / static_cast<double>(steps);
    for (double v = static_cast<double>(train_steps); v > 0; v -= ratio) t.push_back(std::nearbyint(v) - 1);
  } else {
    fail(ErrorCode::Unsupported, "[scheduler] timestep_spacing '", spacing, "' is not supported");
  }
  return t;
}

std::vector<double> numpy_linspace(double start, double stop, int64_t num) {
  std::vector<double> y;
  if (num <= 0) return y;
  const double step = num > 1 ? (stop - start) / static_cast<double>(num - 1) : 0.0;
  for (int64_t i = 0; i < num; ++i) y.push_back(static_cast<double>(i) * step + start);
  if (num > 1) y.back() = stop;
  return y;
}

double interp(double x, const std::vector<double>& table) {
  if (x <= 0) return table.front();
  const double last = static_cast<double>(table.size() - 1);
  if (x >= last) return table.back();
  const size_t i = static_cast<size_t>(std::floor(x));
  const double frac = x - static_cast<double>(i);
  return table[i] + frac * (table[i + 1] - table[i]);
}

std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int64_t steps) {
  const double rho = 7.0;
  const double min_inv = std::pow(sigma_min, 1.0 / rho), max_inv = std::pow(sigma_max, 1.0 / rho);
  std::vector<double> out;
  for (int64_t i = 0; i < steps; ++i) {
    const double ramp = steps == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(steps - 1);
    out.push_back(std::pow(max_inv + ramp * (min_inv - max_inv), rho));
  }
  return out;
}

double sigma_to_t(double sigma, const std::vector<double>& log_sigmas) {
  const double log_sigma = std::log(std::max(sigma, 1e-10));
  // low_idx: the last index whose log sigma is <= log_sigma (cumsum(dists >= 0).argmax)
  int64_t count = 0;
  for (double ls : log_sigmas) count += (log_sigma - ls) >= 0;
  int64_t low = std::max<int64_t>(count - 1, 0);
  low = std::min<int64_t>(low, static_cast<int64_t>(log_sigmas.size()) - 2);
  const double lo = log_sigmas[static_cast<size_t>(low)], hi = log_sigmas[static_cast<size_t>(low + 1)];
  const double w = std::clamp((lo - log_sigma) / (lo - hi), 0.0, 1.0);
  return (1 - w) * static_cast<double>(low) + w * static_cast<double>(low + 1);
}

}  // namespace sdxl::samplers

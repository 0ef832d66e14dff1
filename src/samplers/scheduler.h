// Diffusers' schedulers as samplers over host tensors: set_timesteps, init_noise_sigma,
// scale_model_input, step, add_noise, with the same numbers diffusers 0.25.1 produces.
// Stochastic samplers take their Gaussian noise from a caller-supplied NoiseFn (the pipeline's
// torch-compatible generator), drawn at exactly the points diffusers draws it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace sdxl::samplers {

// Draws `count` standard normal values (one torch.randn of that many elements).
using NoiseFn = std::function<void(float* out, int64_t count)>;

// The scheduler_config.json fields the samplers use (every scheduler class's own defaults
// are applied by make_scheduler when a field is absent).
struct SchedulerSpec {
  std::string type = "EulerDiscreteScheduler";
  int64_t num_train_timesteps = 1000;
  double beta_start = 0.0001, beta_end = 0.02;
  std::string beta_schedule = "linear";
  std::vector<double> trained_betas;
  std::string prediction_type = "epsilon";
  std::optional<std::string> timestep_spacing;
  int64_t steps_offset = 0;
  bool use_karras_sigmas = false;
  std::string interpolation_type = "linear";
  bool rescale_betas_zero_snr = false;
  std::optional<double> sigma_min, sigma_max;
  // DPMSolverMultistep / UniPC
  int64_t solver_order = 2;
  std::string algorithm_type = "dpmsolver++";
  std::string solver_type = "midpoint";
  bool lower_order_final = true;
  bool euler_at_final = false;
  // DDIM / PNDM / DDPM
  bool set_alpha_to_one = true;
  bool skip_prk_steps = false;              // PNDM: true runs PLMS alone
  std::string variance_type = "fixed_small";  // DDPM
  bool clip_sample = true;
  double clip_sample_range = 1.0;
  double eta = 0.0;
  double ancestral_eta = 1.0;  // Euler a: k-diffusion's get_ancestral_step eta (1: diffusers')
  // LCM
  int64_t original_inference_steps = 50;
  double timestep_scaling = 10.0;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void set_timesteps(int64_t steps) = 0;
  // The timesteps the model is called with, in order (second-order samplers repeat some).
  const std::vector<double>& timesteps() const { return timesteps_; }
  virtual double init_noise_sigma() const = 0;
  // The model's input at timestep t (sample / sqrt(sigma^2 + 1) for sigma-based samplers).
  virtual Tensor scale_model_input(const Tensor& sample, double t) = 0;
  // One update: the sample at the next timestep from the model's output at t.
  virtual Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn& noise) = 0;
  // original + noise scaled for timestep t (img2img's starting point).
  virtual Tensor add_noise(const Tensor& original, const Tensor& noise, double t) const = 0;
  // How many model calls a step takes (2 for Heun / KDPM2): diffusers' scheduler.order.
  virtual int order() const { return 1; }
  // The sigma table after set_timesteps (empty for schedulers without sigmas).
  const std::vector<double>& sigmas() const { return sigmas_; }
  const std::vector<double>& alphas_cumprod() const { return alphas_cumprod_; }

 protected:
  std::vector<double> timesteps_;
  std::vector<double> sigmas_;
  std::vector<double> alphas_cumprod_;  // float32 values, as diffusers keeps them
};

// Throws sdxl::Error (Unsupported) for a scheduler class or setting we do not implement.
std::unique_ptr<Scheduler> make_scheduler(const SchedulerSpec& spec);

}  // namespace sdxl::samplers

// The schedule arithmetic shared by diffusers' schedulers, with torch's float32 rounding where
// diffusers computes in float32 tensors and numpy's float64 where it computes in numpy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "samplers/scheduler.h"

namespace sdxl::samplers {

// alphas_cumprod (float32 values) from the beta schedule.
std::vector<double> alphas_cumprod_of(const SchedulerSpec& spec);
// sqrt((1 - a) / a) of each alphas_cumprod entry, as float32.
std::vector<double> sigma_table(const std::vector<double>& alphas_cumprod);
// The float timesteps of 'linspace' / 'leading' / 'trailing' spacing (diffusers' Euler rules).
std::vector<double> spaced_timesteps(const std::string& spacing, int64_t train_steps, int64_t steps, int64_t offset);
// numpy.linspace(start, stop, num): start + i * ((stop - start) / (num - 1)), the last exactly stop
// (the product, not i * (stop - start) / (num - 1), decides which way a .5 rounds).
std::vector<double> numpy_linspace(double start, double stop, int64_t num);
// numpy.interp(x, arange(len(table)), table)
double interp(double x, const std::vector<double>& table);
// Karras et al. (2022) sigmas from sigma_max down to sigma_min, rho = 7.
std::vector<double> karras_sigmas(double sigma_min, double sigma_max, int64_t steps);
// diffusers' _sigma_to_t: the fractional timestep of a sigma, interpolating log sigmas.
double sigma_to_t(double sigma, const std::vector<double>& log_sigmas);
float to_f32(double v);
// sqrt(a) * original + sqrt(1 - a) * noise with a = alphas_cumprod[t]: the add_noise of the
// schedulers indexed by integer timestep (DDIM, DDPM, PNDM, LCM). Throws for t out of range.
Tensor noised_at_timestep(const std::vector<double>& alphas_cumprod, const Tensor& original, const Tensor& noise, double t);

}  // namespace sdxl::samplers

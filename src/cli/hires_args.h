// `sdxl generate`'s hires fix options (AUTOMATIC1111's enable_hr and its hr_* fields):
// --hires-scale F or --hires-size WxH turn it on; the upscaler is a latent mode, Lanczos, Nearest,
// an ESRGAN-family model named by file or by its name in --upscaler-dir.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "sdxl/generation.hpp"

namespace sdxl::cli {

struct HiresOptions {
  std::optional<double> scale, denoise, cfg;
  std::string size;  // WxH
  std::string upscaler = "Latent", upscaler_dir, sampler;
  std::optional<std::string> prompt, negative_prompt;
  int steps = 0;
};

void add_hires_options(CLI::App& cmd, HiresOptions& o);
// The hires fix the options ask for (none without --hires-scale / --hires-size); usage errors
// name the option.
std::optional<api::Hires> hires_of(const HiresOptions& o);
// The option behind a library parameter ("hr_scale", ...), or nullopt.
std::optional<std::string> hires_option_of(const std::string& parameter);

}  // namespace sdxl::cli

// Seconds per image for the recipes people run on CPUs: the standard SDXL recipe, and the
// few-step ones (Lightning-style, Turbo-style) with the full VAE or the tiny autoencoder. Each
// recipe runs in its own process on an engine whose models are loaded (KeepLoaded), and reports
// where the time went: load, text, UNet, decode.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sdxl::bench {

struct Recipe {
  std::string name;
  int64_t size = 1024;
  int steps = 30;
  double guidance = 5.0;
  std::string sampler = "euler";
  std::string spacing;  // empty: the model's
  std::string precision = "bf16";
  bool taesd = false;
  int measured_steps = 0;  // 0: all; else this many are run and the UNet's time is scaled up to `steps`
  bool warm_up = false;    // a first generation before the measured one (oneDNN primitives made)
};

std::vector<Recipe> recipes();
// One recipe, in this process: "RESULT load_s=... text_s=... unet_s=... decode_s=... total_s=... unet_gflop=..."
std::string measure_recipe(const Recipe& recipe, const std::filesystem::path& model, const std::filesystem::path& taesd);

}  // namespace sdxl::bench

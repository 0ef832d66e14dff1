// `sdxl generate`'s ControlNet and T2I-Adapter options: --controlnet MODEL and --control-image IMG
// in pairs, one pair per unit, --t2i-adapter MODEL and --adapter-image IMG likewise, and the per-unit
// settings given once for all units or once per unit in order (ControlNets first, then adapters).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sdxl/generation.hpp"

namespace sdxl::cli {

struct ControlOptions {
  std::vector<std::string> models, images, configs, scales, starts, ends, preprocessors, resize_modes, control_modes;
  std::vector<std::string> adapters, adapter_images, adapter_scales, adapter_factors;
  std::string ip_adapter, image_encoder, ip_image;  // --ip-adapter, --image-encoder, --ip-adapter-image
  std::optional<double> ip_scale;
  std::string canny_thresholds;  // LOW,HIGH
  int resolution = 0;            // 0: pixel perfect
  bool guess_mode = false;
};

void add_control_options(CLI::App& cmd, ControlOptions& o);
// The units the options describe, their images read; usage errors name the option.
std::vector<api::ControlNet> control_units(const ControlOptions& o);
// The IP-Adapter the options describe (its image read), or none; usage errors name the option.
std::optional<api::IpAdapter> ip_adapter_of(const ControlOptions& o);
// The option behind a library parameter "controlnets[i].field", or nullopt; units from
// `controlnet_count` on are the adapters.
std::optional<std::string> control_option_of(const std::string& parameter, size_t controlnet_count);
// "LOW,HIGH" as two thresholds, or a usage error naming `option`.
std::pair<double, double> parse_thresholds(const std::string& text, const char* option);

}  // namespace sdxl::cli

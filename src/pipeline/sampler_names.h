// The sampler names of the CLI and C API (as in the DESIGN contract) -> diffusers' scheduler
// classes and config overrides, plus the names AUTOMATIC1111's "parameters" chunk uses.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sdxl::pipeline {

struct SamplerChoice {
  std::string scheduler;            // diffusers class
  nlohmann::json overrides;         // on top of the model's scheduler_config.json
  std::string display;              // "Euler", "DPM++ 2M Karras", ...
};

// Throws InvalidArgument listing the known names for an unknown one.
SamplerChoice sampler_choice(const std::string& name, bool karras);

}  // namespace sdxl::pipeline

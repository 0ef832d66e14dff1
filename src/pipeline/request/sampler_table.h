// The one sampler table: our names (CLI, C API), the diffusers scheduler class and config
// overrides each stands for, and AUTOMATIC1111's display name and aliases. The CLI's choices and
// help, the PNG's "Sampler:" field and the HTTP APIs' sampler lists are all made from it; a new
// sampler is one row here (and its scheduler in src/samplers).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sdxl::pipeline {

struct SamplerEntry {
  std::string name;                  // "dpmpp_2m": the CLI's and C API's name
  std::string scheduler;             // "DPMSolverMultistepScheduler": the diffusers class
  nlohmann::json overrides;          // on top of the model's scheduler_config.json
  std::string display;               // "DPM++ 2M": AUTOMATIC1111's name, in PNG infotext
  std::vector<std::string> aliases;  // AUTOMATIC1111's other names ("k_dpmpp_2m")
  bool karras = true;                // accepts Karras sigmas
};

const std::vector<SamplerEntry>& sampler_table();

// The scheduler variants a sampler can run with, by AUTOMATIC1111's names: "Automatic" (the
// model's own sigmas) and "Karras".
const std::vector<std::string>& sampler_schedule_names();

struct SamplerChoice {
  const SamplerEntry* entry = nullptr;
  bool karras = false;
  nlohmann::json overrides() const;  // the entry's, plus use_karras_sigmas
  std::string display() const;       // "DPM++ 2M Karras"
};

// Resolves any name of the table (ours, AUTOMATIC1111's display name or an alias, any case) and
// AUTOMATIC1111's legacy "<name> Karras" form; `schedule` is "", "automatic" or "karras" (any
// case), and `karras` a flag for the same. Throws InvalidArgument listing the known names.
SamplerChoice resolve_sampler(const std::string& name, const std::string& schedule = "", bool karras = false);

}  // namespace sdxl::pipeline

// A scheduler_config.json (plus overrides, and optionally another scheduler class, as
// diffusers' Scheduler.from_config(pipe.scheduler.config) does) -> samplers::SchedulerSpec.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "samplers/scheduler.h"

namespace sdxl::pipeline {

// `type` empty: the config's own _class_name. Fields absent from the config keep the class's
// defaults; fields of other classes are ignored, as diffusers ignores them. Values no sampler
// can run are refused here, naming `origin` (the file) and the field.
samplers::SchedulerSpec scheduler_spec(const nlohmann::json& config, const std::string& type = "",
                                       const std::string& origin = "scheduler config");

}  // namespace sdxl::pipeline

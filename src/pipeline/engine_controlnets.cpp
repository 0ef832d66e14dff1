// Engine::control_units: ControlNet specs made into the units the pipeline runs.
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "pipeline/engine.h"
#include "pipeline/sources/controlnet_source.h"
#include "pipeline/stages/control_steering.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl::pipeline {
namespace {

// Loaded ControlNets are kept by their file and architecture.
std::string controlnet_key(const ControlSpec& spec) {
  std::error_code ec;
  return std::filesystem::weakly_canonical(spec.model, ec).string() + "\n" + spec.config.string();
}

}  // namespace

double Engine::controlnets_gib(const EngineRequest& request) const {
  double gib = 0;
  for (size_t i = 0; i < request.controlnets.size(); ++i) {
    const ControlSpec& spec = request.controlnets[i];
    if (controlnets_.count(controlnet_key(spec))) continue;
    try {
      gib += controlnet_weights_gib(spec.model, options_.precision);
    } catch (const Error& e) {
      throw Error(e.code(), std::string("[controlnet] unit ") + std::to_string(i) + ": " + e.what(),
                  "controlnets[" + std::to_string(i) + "].model");
    }
  }
  return gib;
}

std::vector<ControlUnit> Engine::control_units(const EngineRequest& request, int64_t width, int64_t height) {
  std::vector<ControlUnit> units;
  const bool keep = options_.memory != MemoryPolicy::OneShot;
  // A warm engine keeps the ControlNets of its last request only: one that switches nets holds
  // one request's set, not every net it was ever asked for.
  std::map<std::string, std::shared_ptr<const models::ControlNetModel>> wanted;
  for (const ControlSpec& spec : request.controlnets) {
    const auto loaded = controlnets_.find(controlnet_key(spec));
    if (loaded != controlnets_.end()) wanted.insert(*loaded);
  }
  controlnets_.swap(wanted);
  wanted.clear();
  for (size_t i = 0; i < request.controlnets.size(); ++i) {
    const ControlSpec& spec = request.controlnets[i];
    const std::string field = "controlnets[" + std::to_string(i) + "]";
    const std::string key = controlnet_key(spec);
    ControlUnit unit;
    auto loaded = controlnets_.find(key);
    try {
      if (loaded != controlnets_.end()) {
        unit.model = loaded->second;
      } else {
        unit.model = load_controlnet(spec.model, spec.config, options_.precision, &base().unet_config());
        if (keep) controlnets_[key] = unit.model;
      }
    } catch (const Error& e) {
      throw Error(e.code(), std::string("[controlnet] unit ") + std::to_string(i) + ": " + e.what(), field + ".model");
    }
    try {
      unit.image = image_tensor(control_map(spec, width, height));
    } catch (const Error& e) {
      throw Error(e.code(), std::string("[controlnet] unit ") + std::to_string(i) + ": " + e.what(), field + ".image");
    }
    unit.scale = spec.scale;
    unit.start = spec.start;
    unit.end = spec.end;
    unit.window = spec.a1111_window ? ControlWindow::Automatic1111 : ControlWindow::Diffusers;
    if (spec.mode != ControlMode::Balanced)
      unit.residual_weights = soft_injection_weights(unit.model->residual_count() + 1);
    unit.conditional_only = spec.mode == ControlMode::ControlNetMore;
    units.push_back(std::move(unit));
  }
  return units;
}

}  // namespace sdxl::pipeline

// Engine::control_units: ControlNet and T2I-Adapter specs made into the units the pipeline runs.
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "pipeline/engine.h"
#include "pipeline/sources/adapter_source.h"
#include "pipeline/sources/controlnet_source.h"
#include "pipeline/sources/image_encoder_source.h"
#include "pipeline/sources/ip_adapter_source.h"
#include "imaging/clip_image.h"
#include "pipeline/stages/control_steering.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl::pipeline {
namespace {

std::string file_key(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::weakly_canonical(path, ec).string();
}

// Loaded ControlNets are kept by their file and architecture.
std::string controlnet_key(const ControlSpec& spec) { return file_key(spec.model) + "\n" + spec.config.string(); }

bool spec_is_adapter(const ControlSpec& spec, size_t i) {
  const bool adapter = is_t2i_adapter(spec.model);
  const char* wanted = spec.kind == ControlKind::T2IAdapter ? "a T2I-Adapter" : "a ControlNet";
  SDXL_CHECK_PARAM(spec.kind == ControlKind::Any || adapter == (spec.kind == ControlKind::T2IAdapter), InvalidArgument,
                   ("controlnets[" + std::to_string(i) + "].model").c_str(), "[controlnet] unit ", i, ": ",
                   spec.model.string(), " is ", adapter ? "a T2I-Adapter" : "not a T2I-Adapter", ", but ", wanted,
                   " was asked for");
  return adapter;
}

}  // namespace

double Engine::controlnets_gib(const EngineRequest& request) const {
  double gib = 0;
  for (size_t i = 0; i < request.controlnets.size(); ++i) {
    const ControlSpec& spec = request.controlnets[i];
    if (controlnets_.count(controlnet_key(spec)) || adapters_.count(controlnet_key(spec))) continue;
    try {
      gib += is_t2i_adapter(spec.model) ? t2i_adapter_weights_gib(spec.model, options_.precision)
                                        : controlnet_weights_gib(spec.model, options_.precision);
    } catch (const Error& e) {
      throw Error(e.code(), std::string("[controlnet] unit ") + std::to_string(i) + ": " + e.what(),
                  "controlnets[" + std::to_string(i) + "].model");
    }
  }
  if (request.ip_adapter) {
    const IpAdapterSpec& ip = *request.ip_adapter;
    try {
      if (!ip_adapters_.count(file_key(ip.model))) gib += ip_adapter_weights_gib(ip.model, options_.precision);
    } catch (const Error& e) {
      throw Error(e.code(), e.what(), "ip_adapter.model");
    }
    try {
      if (!image_encoders_.count(file_key(ip.image_encoder)))
        gib += image_encoder_weights_gib(ip.image_encoder, options_.precision);
    } catch (const Error& e) {
      throw Error(e.code(), e.what(), "ip_adapter.image_encoder");
    }
  }
  return gib;
}

// A warm engine keeps the models of its last request only: one that switches models holds one
// request's set, not every model it was ever asked for.
template <typename Model>
void keep_wanted(std::map<std::string, std::shared_ptr<const Model>>& loaded, const std::vector<ControlSpec>& specs) {
  std::map<std::string, std::shared_ptr<const Model>> wanted;
  for (const ControlSpec& spec : specs) {
    const auto it = loaded.find(controlnet_key(spec));
    if (it != loaded.end()) wanted.insert(*it);
  }
  loaded.swap(wanted);
}

void Engine::control_units(const EngineRequest& request, int64_t width, int64_t height, GenerateRequest& r) {
  const bool keep = options_.memory != MemoryPolicy::OneShot;
  keep_wanted(controlnets_, request.controlnets);
  keep_wanted(adapters_, request.controlnets);
  r.controlnets.clear();
  r.adapters.clear();
  for (size_t i = 0; i < request.controlnets.size(); ++i) {
    const ControlSpec& spec = request.controlnets[i];
    const std::string field = "controlnets[" + std::to_string(i) + "]";
    const std::string key = controlnet_key(spec);
    bool adapter = false;
    try {
      adapter = spec_is_adapter(spec, i);
    } catch (const Error& e) {
      if (!e.parameter().empty()) throw;
      throw Error(e.code(), std::string("[controlnet] unit ") + std::to_string(i) + ": " + e.what(), field + ".model");
    }
    Tensor image;
    try {
      image = image_tensor(control_map(spec, width, height));
    } catch (const Error& e) {
      throw Error(e.code(), std::string("[controlnet] unit ") + std::to_string(i) + ": " + e.what(), field + ".image");
    }
    try {
      if (adapter) {
        AdapterUnit unit;
        auto loaded = adapters_.find(key);
        unit.model = loaded != adapters_.end() ? loaded->second : load_t2i_adapter(spec.model, options_.precision);
        if (keep) adapters_[key] = unit.model;
        unit.image = image;
        unit.scale = spec.scale;
        unit.start = spec.start;
        unit.end = spec.end;
        unit.window = spec.a1111_window ? ControlWindow::Automatic1111 : ControlWindow::Diffusers;
        if (spec.mode != ControlMode::Balanced) unit.feature_weights = adapter_soft_injection_weights();
        unit.conditional_only = spec.mode == ControlMode::ControlNetMore;
        r.adapters.push_back(std::move(unit));
        continue;
      }
      ControlUnit unit;
      auto loaded = controlnets_.find(key);
      unit.model = loaded != controlnets_.end() ? loaded->second
                                                : load_controlnet(spec.model, spec.config, options_.precision, &base().unet_config());
      if (keep) controlnets_[key] = unit.model;
      unit.image = image;
      unit.scale = spec.scale;
      unit.start = spec.start;
      unit.end = spec.end;
      unit.window = spec.a1111_window ? ControlWindow::Automatic1111 : ControlWindow::Diffusers;
      if (spec.mode != ControlMode::Balanced)
        unit.residual_weights = soft_injection_weights(unit.model->residual_count() + 1);
      unit.conditional_only = spec.mode == ControlMode::ControlNetMore;
      r.controlnets.push_back(std::move(unit));
    } catch (const Error& e) {
      if (!e.parameter().empty()) throw;
      throw Error(e.code(), std::string("[controlnet] unit ") + std::to_string(i) + ": " + e.what(), field + ".model");
    }
  }
}

void Engine::image_prompt_unit(const EngineRequest& request, GenerateRequest& r) {
  const bool keep = options_.memory != MemoryPolicy::OneShot;
  r.ip_adapter.reset();
  if (!request.ip_adapter) return;  // kept for the next request that has one, as the ControlNets
  const IpAdapterSpec& spec = *request.ip_adapter;
  const std::string adapter_key = file_key(spec.model), encoder_key = file_key(spec.image_encoder);
  for (auto it = ip_adapters_.begin(); it != ip_adapters_.end();)
    it = it->first == adapter_key ? std::next(it) : ip_adapters_.erase(it);
  for (auto it = image_encoders_.begin(); it != image_encoders_.end();)
    it = it->first == encoder_key ? std::next(it) : image_encoders_.erase(it);
  IpAdapterUnit unit;
  try {
    const auto loaded = ip_adapters_.find(adapter_key);
    unit.adapter = loaded != ip_adapters_.end() ? loaded->second
                                                : load_ip_adapter(spec.model, base().unet_config(), options_.precision);
    if (keep) ip_adapters_[adapter_key] = unit.adapter;
  } catch (const Error& e) {
    throw Error(e.code(), e.what(), "ip_adapter.model");
  }
  try {
    const auto loaded = image_encoders_.find(encoder_key);
    unit.encoder = loaded != image_encoders_.end() ? loaded->second : load_image_encoder(spec.image_encoder, options_.precision);
    if (keep) image_encoders_[encoder_key] = unit.encoder;
  } catch (const Error& e) {
    throw Error(e.code(), e.what(), "ip_adapter.image_encoder");
  }
  try {
    unit.pixel_values = imaging::clip_pixel_values(spec.image, unit.encoder->config().image_size);
  } catch (const Error& e) {
    throw Error(e.code(), e.what(), "ip_adapter.image");
  }
  unit.scale = spec.scale;
  unit.start = spec.start;
  unit.end = spec.end;
  r.ip_adapter = std::move(unit);
}

}  // namespace sdxl::pipeline

// The C API's ControlNet, T2I-Adapter and IP-Adapter units: their defaults, their conversion to the engine's specs, and the
// preprocessors on their own (/controlnet/detect, `sdxl preprocess`).
#include <cmath>
#include <cstring>

#include "capi/c_api_guard.h"
#include "capi/c_api_images.h"
#include "capi/c_api_request.h"
#include "core/error.h"
#include "pipeline/request/control_spec.h"

namespace sdxl::capi {

std::vector<pipeline::ControlSpec> control_specs(const sdxl_generate_params& p, Purpose purpose) {
  SDXL_CHECK_PARAM(p.controlnet_count >= 0 && p.controlnet_count <= static_cast<int>(pipeline::kMaxControlUnits) &&
                       (p.controlnet_count == 0 || p.controlnets),
                   InvalidArgument, "controlnets", "[generate] ", p.controlnet_count, " ControlNet units (at most ",
                   pipeline::kMaxControlUnits, ", and not NULL)");
  std::vector<pipeline::ControlSpec> specs;
  for (int i = 0; i < p.controlnet_count; ++i) {
    const sdxl_controlnet_unit& u = p.controlnets[i];
    const std::string unit = "controlnets[" + std::to_string(i) + "]";
    auto field = [&](const char* name) { return unit + "." + name; };
    pipeline::ControlSpec s;
    SDXL_CHECK_PARAM(u.model && *u.model, InvalidArgument, field("model").c_str(), "[generate] ", unit, ": no model");
    s.model = u.model;
    if (u.config_dir && *u.config_dir) s.config = u.config_dir;
    if (u.name) s.name = u.name;
    SDXL_CHECK_PARAM(u.image, InvalidArgument, field("image").c_str(), "[generate] ", unit, ": no control image");
    try {
      s.image = purpose == Purpose::Run ? image_of(u.image, u.image_width, u.image_height, u.image_channels, "control image")
                                        : image_header(u.image_width, u.image_height, u.image_channels, "control image");
    } catch (const Error& e) {
      throw Error(e.code(), e.what(), field("image"));
    }
    s.preprocessor = u.preprocessor ? u.preprocessor : "none";
    s.threshold_a = u.threshold_a;
    s.threshold_b = u.threshold_b;
    s.resolution = u.resolution;
    try {
      if (u.resize_mode) s.resize_mode = imaging::parse_control_resize_mode(u.resize_mode);
    } catch (const Error& e) {
      throw Error(e.code(), std::string("[generate] ") + unit + ": " + e.what(), field("resize_mode"));
    }
    try {
      if (u.control_mode) s.mode = pipeline::parse_control_mode(u.control_mode);
    } catch (const Error& e) {
      throw Error(e.code(), std::string("[generate] ") + unit + ": " + e.what(), field("control_mode"));
    }
    s.scale = u.scale;
    s.start = u.start;
    s.end = u.end;
    s.a1111_window = u.a1111_window != 0;
    const std::string kind = u.kind ? u.kind : "auto";
    SDXL_CHECK_PARAM(kind == "auto" || kind == "controlnet" || kind == "t2i_adapter", InvalidArgument, field("kind").c_str(),
                     "[generate] ", unit, ": kind '", kind, "' is not auto, controlnet or t2i_adapter");
    s.kind = kind == "controlnet" ? pipeline::ControlKind::ControlNet
             : kind == "t2i_adapter" ? pipeline::ControlKind::T2IAdapter
                                    : pipeline::ControlKind::Any;
    specs.push_back(std::move(s));
  }
  return specs;
}

std::optional<pipeline::IpAdapterSpec> ip_adapter_spec(const sdxl_generate_params& p, Purpose purpose) {
  if (!p.ip_adapter) return std::nullopt;
  const sdxl_ip_adapter& a = *p.ip_adapter;
  pipeline::IpAdapterSpec s;
  SDXL_CHECK_PARAM(a.model && *a.model, InvalidArgument, "ip_adapter.model", "[generate] ip_adapter: no model");
  SDXL_CHECK_PARAM(a.image_encoder && *a.image_encoder, InvalidArgument, "ip_adapter.image_encoder",
                   "[generate] ip_adapter: no image encoder (the adapter's CLIP vision model)");
  s.model = a.model;
  s.image_encoder = a.image_encoder;
  if (a.name) s.name = a.name;
  SDXL_CHECK_PARAM(a.image, InvalidArgument, "ip_adapter.image", "[generate] ip_adapter: no image");
  try {
    s.image = purpose == Purpose::Run ? image_of(a.image, a.image_width, a.image_height, a.image_channels, "IP-Adapter image")
                                      : image_header(a.image_width, a.image_height, a.image_channels, "IP-Adapter image");
  } catch (const Error& e) {
    throw Error(e.code(), e.what(), "ip_adapter.image");
  }
  s.scale = a.scale;
  s.start = a.start;
  s.end = a.end;
  return s;
}

}  // namespace sdxl::capi

extern "C" {

void sdxl_ip_adapter_init(sdxl_ip_adapter* adapter) {
  if (!adapter) return;
  std::memset(adapter, 0, sizeof *adapter);
  adapter->scale = 1.0;
  adapter->end = 1.0;
}

void sdxl_controlnet_unit_init(sdxl_controlnet_unit* unit) {
  if (!unit) return;
  std::memset(unit, 0, sizeof *unit);
  unit->threshold_a = 100;
  unit->threshold_b = 200;
  unit->scale = 1.0;
  unit->end = 1.0;
}

sdxl_status sdxl_control_preprocess(const sdxl_image* image, const char* preprocessor, double threshold_a,
                                    double threshold_b, int resolution, sdxl_image** map) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(image && map, InvalidArgument, "[preprocess] image and map must not be NULL");
    *map = nullptr;
    sdxl::pipeline::ControlSpec spec;
    spec.image = sdxl::capi::image_of(image->pixels, image->width, image->height, image->channels, "image");
    spec.preprocessor = preprocessor ? preprocessor : "none";
    spec.threshold_a = threshold_a;
    spec.threshold_b = threshold_b;
    SDXL_CHECK_PARAM(resolution >= 0 && resolution <= 8192, InvalidArgument, "resolution", "[preprocess] resolution ",
                     resolution, " is outside [0, 8192]");
    spec.resolution = resolution > 0 ? resolution : std::min(image->width, image->height);
    *map = sdxl::capi::to_c_image(sdxl::pipeline::detect_control_map(spec, image->width, image->height));
  });
}

}  // extern "C"

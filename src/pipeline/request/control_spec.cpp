#include "pipeline/request/control_spec.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace sdxl::pipeline {

ControlMode parse_control_mode(const std::string& name) {
  if (name == "Balanced" || name == "0") return ControlMode::Balanced;
  if (name == "My prompt is more important" || name == "1") return ControlMode::PromptMore;
  if (name == "ControlNet is more important" || name == "2") return ControlMode::ControlNetMore;
  fail(ErrorCode::InvalidArgument, "control mode '", name,
       "' is not one of Balanced (0), My prompt is more important (1), ControlNet is more important (2)");
}

const char* control_mode_name(ControlMode mode) {
  switch (mode) {
    case ControlMode::Balanced: return "Balanced";
    case ControlMode::PromptMore: return "My prompt is more important";
    case ControlMode::ControlNetMore: return "ControlNet is more important";
  }
  return "Balanced";
}

const std::vector<std::string>& available_preprocessors() {
  static const std::vector<std::string> names{"none", "canny"};
  return names;
}

bool is_available_preprocessor(const std::string& name) {
  const auto& names = available_preprocessors();
  return std::find(names.begin(), names.end(), name) != names.end();
}

void check_control_specs(const std::vector<ControlSpec>& specs, bool model_is_refiner) {
  if (specs.empty()) return;
  SDXL_CHECK_PARAM(!model_is_refiner, InvalidArgument, "controlnets",
                   "[controlnet] the model is a refiner: SDXL ControlNets steer the base model (give the base)");
  SDXL_CHECK_PARAM(specs.size() <= kMaxControlUnits, InvalidArgument, "controlnets", "[controlnet] ", specs.size(),
                   " units are more than ", kMaxControlUnits);
  for (size_t i = 0; i < specs.size(); ++i) {
    const ControlSpec& s = specs[i];
    const std::string unit = "controlnets[" + std::to_string(i) + "]";
    auto field = [&](const char* name) { return unit + "." + name; };
    std::error_code ec;
    SDXL_CHECK_PARAM(!s.model.empty() && std::filesystem::exists(s.model, ec), Io, field("model").c_str(), "[controlnet] unit ",
                     i, ": ", s.model.empty() ? std::string("no model given") : s.model.string() + ": no such file or folder");
    SDXL_CHECK_PARAM(s.image.width > 0 && s.image.height > 0, InvalidArgument, field("image").c_str(), "[controlnet] unit ", i,
                     ": no control image");
    SDXL_CHECK_PARAM(is_available_preprocessor(s.preprocessor), InvalidArgument, field("preprocessor").c_str(),
                     "[controlnet] unit ", i, ": preprocessor '", s.preprocessor,
                     "' is not available (sdxl runs none and canny; depth, pose, lineart and the others need networks "
                     "of their own)");
    SDXL_CHECK_PARAM(std::isfinite(s.scale) && s.scale >= 0 && s.scale <= 10, InvalidArgument, field("scale").c_str(),
                     "[controlnet] unit ", i, ": the scale ", s.scale, " is outside [0, 10]");
    SDXL_CHECK_PARAM(std::isfinite(s.start) && std::isfinite(s.end) && s.start >= 0 && s.end <= 1 &&
                         (s.a1111_window ? s.start <= s.end : s.start < s.end),
                     InvalidArgument, field(s.start < 0 || s.start > 1 ? "start" : "end").c_str(), "[controlnet] unit ", i,
                     ": the guidance window [", s.start, ", ", s.end, "] must have 0 <= start ",
                     s.a1111_window ? "<=" : "<", " end <= 1");
    SDXL_CHECK_PARAM(s.resolution >= 0 && s.resolution <= 8192, InvalidArgument, field("resolution").c_str(),
                     "[controlnet] unit ", i, ": the preprocessor resolution ", s.resolution, " is outside [0, 8192]");
    SDXL_CHECK_PARAM(std::isfinite(s.threshold_a) && std::isfinite(s.threshold_b) && s.threshold_a >= 0 && s.threshold_b >= 0 &&
                         s.threshold_a <= 1e5 && s.threshold_b <= 1e5,
                     InvalidArgument, field("threshold_a").c_str(), "[controlnet] unit ", i, ": thresholds ", s.threshold_a,
                     ", ", s.threshold_b, " must be non-negative");
  }
}

void check_ip_adapter_spec(const IpAdapterSpec& s, bool model_is_refiner) {
  SDXL_CHECK_PARAM(!model_is_refiner, InvalidArgument, "ip_adapter",
                   "[ip-adapter] the model is a refiner: SDXL IP-Adapters steer the base model (give the base)");
  std::error_code ec;
  SDXL_CHECK_PARAM(!std::filesystem::is_directory(s.model, ec), InvalidArgument, "ip_adapter.model", "[ip-adapter] ",
                   s.model.string(), " is a folder (a ControlNet or T2I-Adapter?): an IP-Adapter is one .safetensors file");
  SDXL_CHECK_PARAM(!s.model.empty() && std::filesystem::is_regular_file(s.model, ec), Io, "ip_adapter.model",
                   "[ip-adapter] ", s.model.empty() ? std::string("no IP-Adapter file given") : s.model.string() + ": no such file");
  SDXL_CHECK_PARAM(!s.image_encoder.empty() && std::filesystem::exists(s.image_encoder, ec), Io, "ip_adapter.image_encoder",
                   "[ip-adapter] ", s.image_encoder.empty() ? std::string("no image encoder given (the adapter's CLIP vision model)")
                                                            : s.image_encoder.string() + ": no such file or folder");
  SDXL_CHECK_PARAM(s.image.width > 0 && s.image.height > 0, InvalidArgument, "ip_adapter.image", "[ip-adapter] no image");
  SDXL_CHECK_PARAM(std::isfinite(s.scale) && s.scale >= -10 && s.scale <= 10, InvalidArgument, "ip_adapter.scale",
                   "[ip-adapter] the scale ", s.scale, " is outside [-10, 10]");
  SDXL_CHECK_PARAM(std::isfinite(s.start) && std::isfinite(s.end) && s.start >= 0 && s.start <= s.end && s.end <= 1,
                   InvalidArgument, "ip_adapter.end", "[ip-adapter] the window [", s.start, ", ", s.end,
                   "] must have 0 <= start <= end <= 1");
}

io::Image8 detect_control_map(const ControlSpec& spec, int64_t width, int64_t height) {
  SDXL_CHECK(is_available_preprocessor(spec.preprocessor), InvalidArgument, "preprocessor '", spec.preprocessor,
             "' is not available: sdxl runs none and canny (depth, pose, lineart and the others need networks of their own)");
  const io::Image8 input = imaging::control_input_rgb(spec.image);
  if (spec.preprocessor == "none") return input;
  const int64_t resolution =
      spec.resolution > 0 ? spec.resolution : imaging::pixel_perfect_resolution(input, width, height, spec.resize_mode);
  return imaging::canny_map(input, resolution, spec.threshold_a, spec.threshold_b);
}

io::Image8 control_map(const ControlSpec& spec, int64_t width, int64_t height) {
  return imaging::fit_control_map(detect_control_map(spec, width, height), spec.resize_mode, width, height);
}

}  // namespace sdxl::pipeline

#include "cli/control_args.h"

#include <cmath>
#include <cstdio>
#include <map>

namespace sdxl::cli {
namespace {

[[noreturn]] void usage_error(const std::string& message) { throw CLI::ValidationError(message); }

// The value for unit `i` of a setting given once for all units or once per unit.
std::string per_unit(const std::vector<std::string>& values, size_t i, size_t units, const char* option,
                     const std::string& fallback) {
  if (values.empty()) return fallback;
  if (values.size() == 1) return values[0];
  if (values.size() != units)
    usage_error(std::string(option) + ": given " + std::to_string(values.size()) + " times for " + std::to_string(units) +
                " units: give it once for all, or once per unit in order (--controlnet, then --t2i-adapter)");
  return values[i];
}

double number(const std::string& text, const char* option) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !std::isfinite(v)) usage_error(std::string(option) + ": '" + text + "' is not a number");
  return v;
}

}  // namespace

std::pair<double, double> parse_thresholds(const std::string& text, const char* option) {
  const size_t comma = text.find(',');
  if (comma == std::string::npos) usage_error(std::string(option) + ": expected LOW,HIGH (e.g. 100,200), got '" + text + "'");
  const double low = number(text.substr(0, comma), option), high = number(text.substr(comma + 1), option);
  if (low < 0 || high < 0 || low > 100000 || high > 100000)
    usage_error(std::string(option) + ": thresholds must be non-negative, got '" + text + "'");
  return {low, high};
}

void add_control_options(CLI::App& cmd, ControlOptions& o) {
  const std::string group = "ControlNet (repeat --controlnet and --control-image in pairs: one pair per unit)";
  auto all = CLI::MultiOptionPolicy::TakeAll;
  cmd.add_option("--controlnet", o.models,
                 "A ControlNet for SDXL: a diffusers folder (config.json + diffusion_pytorch_model.safetensors) or one\n"
                 ".safetensors file (its architecture from --controlnet-config, a config.json beside it, or its tensors)")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--control-image", o.images, "The unit's control image (PNG, JPEG, WebP): the map itself, or an image to preprocess")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--controlnet-config", o.configs, "A single-file ControlNet's architecture: a folder with config.json (per unit)")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--control-scale", o.scales, "controlnet_conditioning_scale (default 1; once, or once per unit)")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--control-start", o.starts, "control_guidance_start: the fraction of steps before the unit acts (default 0)")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--control-end", o.ends, "control_guidance_end: the fraction of steps after which it stops (default 1)")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--control-preprocessor", o.preprocessors,
                 "none (default: the image is the map) or canny (AUTOMATIC1111's ControlNet extension's, OpenCV's Canny)")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--control-resize", o.resize_modes,
                 "How the map is fitted to the output: crop (default: \"Crop and Resize\"), just (\"Just Resize\"),\n"
                 "fill (\"Resize and Fill\"), as the extension does them")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--control-mode", o.control_modes,
                 "The extension's control mode: balanced (default), prompt (\"My prompt is more important\"),\n"
                 "controlnet (\"ControlNet is more important\")")
      ->multi_option_policy(all)->group(group);
  cmd.add_option("--canny-thresholds", o.canny_thresholds, "canny's LOW,HIGH thresholds (default 100,200)")->group(group);
  cmd.add_option("--control-resolution", o.resolution,
                 "The preprocessor's working resolution (short side; default 0: pixel perfect, the output's)")
      ->check(CLI::Range(0, 8192))->group(group);
  cmd.add_flag("--guess-mode", o.guess_mode,
               "diffusers' guess mode: under guidance the ControlNets see only the prompt, their residuals ramped")
      ->group(group);
  const std::string adapters = "T2I-Adapter (repeat --t2i-adapter and --adapter-image in pairs; --control-preprocessor, "
                               "--control-resize and --canny-thresholds apply too)";
  cmd.add_option("--t2i-adapter", o.adapters,
                 "A T2I-Adapter for SDXL (adapter_type full_adapter_xl): a diffusers folder or one .safetensors file")
      ->multi_option_policy(all)->group(adapters);
  cmd.add_option("--adapter-image", o.adapter_images, "The adapter's image (PNG, JPEG, WebP): the map, or an image to preprocess")
      ->multi_option_policy(all)->group(adapters);
  cmd.add_option("--adapter-scale", o.adapter_scales, "adapter_conditioning_scale (default 1; once, or once per adapter)")
      ->multi_option_policy(all)->group(adapters);
  cmd.add_option("--adapter-factor", o.adapter_factors,
                 "adapter_conditioning_factor: the fraction of the steps the adapter acts on, from the first (default 1)")
      ->multi_option_policy(all)->group(adapters);
  const std::string image_prompt = "IP-Adapter (an image as a prompt)";
  cmd.add_option("--ip-adapter", o.ip_adapter,
                 "An SDXL IP-Adapter .safetensors (h94/IP-Adapter's ip-adapter_sdxl*, ip-adapter-plus_sdxl*)")
      ->group(image_prompt);
  cmd.add_option("--image-encoder", o.image_encoder,
                 "Its CLIP image encoder: a transformers folder (config.json + model.safetensors) or one .safetensors\n"
                 "(transformers' or open_clip's names, as ComfyUI's clip_vision files)")
      ->group(image_prompt);
  cmd.add_option("--ip-adapter-image", o.ip_image, "The image prompt (PNG, JPEG, WebP)")->group(image_prompt);
  cmd.add_option("--ip-adapter-scale", o.ip_scale, "set_ip_adapter_scale: how strongly the image steers (default 1)")
      ->check(CLI::Range(-10.0, 10.0))->group(image_prompt);
}

std::optional<api::IpAdapter> ip_adapter_of(const ControlOptions& o) {
  if (o.ip_adapter.empty()) {
    if (!o.image_encoder.empty() || !o.ip_image.empty() || o.ip_scale)
      usage_error("--image-encoder / --ip-adapter-image / --ip-adapter-scale given without --ip-adapter");
    return std::nullopt;
  }
  if (o.image_encoder.empty()) usage_error("--ip-adapter needs --image-encoder (the adapter's CLIP image encoder)");
  if (o.ip_image.empty()) usage_error("--ip-adapter needs --ip-adapter-image (the image prompt)");
  api::IpAdapter a;
  a.model = o.ip_adapter;
  a.image_encoder = o.image_encoder;
  a.image = api::InputImage::read_file(o.ip_image);
  a.scale = o.ip_scale.value_or(1.0);
  return a;
}

std::vector<api::ControlNet> control_units(const ControlOptions& o) {
  if (o.models.size() != o.images.size())
    usage_error("--controlnet and --control-image come in pairs: got " + std::to_string(o.models.size()) + " and " +
                std::to_string(o.images.size()));
  if (o.adapters.size() != o.adapter_images.size())
    usage_error("--t2i-adapter and --adapter-image come in pairs: got " + std::to_string(o.adapters.size()) + " and " +
                std::to_string(o.adapter_images.size()));
  const size_t nets = o.models.size(), adapters = o.adapters.size(), n = nets + adapters;
  if (nets == 0 && (!o.configs.empty() || !o.scales.empty() || !o.starts.empty() || !o.ends.empty() || o.guess_mode))
    usage_error("ControlNet settings given without --controlnet and --control-image");
  if (adapters == 0 && (!o.adapter_scales.empty() || !o.adapter_factors.empty()))
    usage_error("--adapter-scale / --adapter-factor given without --t2i-adapter and --adapter-image");
  if (n == 0) {
    if (!o.preprocessors.empty() || !o.resize_modes.empty() || !o.control_modes.empty())
      usage_error("ControlNet settings given without --controlnet and --control-image");
    return {};
  }
  std::pair<double, double> thresholds{100, 200};
  if (!o.canny_thresholds.empty()) thresholds = parse_thresholds(o.canny_thresholds, "--canny-thresholds");
  std::vector<api::ControlNet> units;
  for (size_t i = 0; i < n; ++i) {
    const bool adapter = i >= nets;
    const size_t k = adapter ? i - nets : i;  // its index among its kind
    api::ControlNet c;
    c.kind = adapter ? "t2i_adapter" : "controlnet";
    c.model = adapter ? o.adapters[k] : o.models[k];
    c.image = api::InputImage::read_file(adapter ? o.adapter_images[k] : o.images[k]);
    if (adapter) {
      c.scale = number(per_unit(o.adapter_scales, k, adapters, "--adapter-scale", "1"), "--adapter-scale");
      c.end = number(per_unit(o.adapter_factors, k, adapters, "--adapter-factor", "1"), "--adapter-factor");
      if (!(c.end > 0 && c.end <= 1))
        usage_error("--adapter-factor: adapter " + std::to_string(k) + " needs a factor in (0, 1], got " + std::to_string(c.end));
    } else {
      c.config_dir = per_unit(o.configs, k, nets, "--controlnet-config", "");
      c.scale = number(per_unit(o.scales, k, nets, "--control-scale", "1"), "--control-scale");
      c.start = number(per_unit(o.starts, k, nets, "--control-start", "0"), "--control-start");
      c.end = number(per_unit(o.ends, k, nets, "--control-end", "1"), "--control-end");
      if (!(c.start >= 0 && c.start < c.end && c.end <= 1))
        usage_error("--control-start / --control-end: unit " + std::to_string(k) + " needs 0 <= start < end <= 1, got " +
                    std::to_string(c.start) + " and " + std::to_string(c.end));
    }
    c.preprocessor = per_unit(o.preprocessors, i, n, "--control-preprocessor", "none");
    c.resize_mode = per_unit(o.resize_modes, i, n, "--control-resize", "crop");
    const std::string mode = per_unit(o.control_modes, i, n, "--control-mode", "balanced");
    static const std::map<std::string, std::string> modes{{"balanced", "Balanced"},
                                                          {"prompt", "My prompt is more important"},
                                                          {"controlnet", "ControlNet is more important"}};
    const auto it = modes.find(mode);
    if (it == modes.end()) usage_error("--control-mode: '" + mode + "' is not one of balanced, prompt, controlnet");
    c.control_mode = it->second;
    c.threshold_a = thresholds.first;
    c.threshold_b = thresholds.second;
    c.resolution = o.resolution;
    units.push_back(std::move(c));
  }
  return units;
}

std::optional<std::string> control_option_of(const std::string& parameter, size_t controlnet_count) {
  if (parameter == "controlnets") return "--controlnet";
  static const std::map<std::string, std::string> ip_options{{"ip_adapter", "--ip-adapter"},
                                                             {"ip_adapter.model", "--ip-adapter"},
                                                             {"ip_adapter.image_encoder", "--image-encoder"},
                                                             {"ip_adapter.image", "--ip-adapter-image"},
                                                             {"ip_adapter.scale", "--ip-adapter-scale"}};
  if (ip_options.count(parameter)) return ip_options.at(parameter);
  if (parameter.rfind("controlnets[", 0) != 0) return std::nullopt;
  static const std::map<std::string, std::string> options{
      {"model", "--controlnet"},     {"image", "--control-image"},         {"scale", "--control-scale"},
      {"start", "--control-start"},  {"end", "--control-end"},             {"preprocessor", "--control-preprocessor"},
      {"resize_mode", "--control-resize"}, {"control_mode", "--control-mode"}, {"threshold_a", "--canny-thresholds"},
      {"resolution", "--control-resolution"}};
  static const std::map<std::string, std::string> adapter_options{
      {"model", "--t2i-adapter"}, {"image", "--adapter-image"}, {"scale", "--adapter-scale"}, {"end", "--adapter-factor"}};
  const size_t dot = parameter.find("].");
  const std::string unit = parameter.substr(12, parameter.find(']') - 12);
  const std::string field = dot == std::string::npos ? "" : parameter.substr(dot + 2);
  size_t index = 0;
  try {
    index = std::stoul(unit);
  } catch (const std::exception&) {
  }
  if (index >= controlnet_count) {
    const auto a = adapter_options.find(field);
    const auto c = options.find(field);
    const std::string option = a != adapter_options.end() ? a->second : c != options.end() ? c->second : "--t2i-adapter";
    return option + " (adapter " + std::to_string(index - controlnet_count) + ")";
  }
  const auto it = options.find(field);
  return (it == options.end() ? std::string("--controlnet") : it->second) + " (unit " + unit + ")";
}

}  // namespace sdxl::cli

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
                " ControlNets: give it once for all, or once per --controlnet in order");
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
}

std::vector<api::ControlNet> control_units(const ControlOptions& o) {
  if (o.models.size() != o.images.size())
    usage_error("--controlnet and --control-image come in pairs: got " + std::to_string(o.models.size()) + " and " +
                std::to_string(o.images.size()));
  const size_t n = o.models.size();
  if (n == 0) {
    const bool stray = !o.configs.empty() || !o.scales.empty() || !o.starts.empty() || !o.ends.empty() ||
                       !o.preprocessors.empty() || !o.resize_modes.empty() || !o.control_modes.empty() || o.guess_mode;
    if (stray) usage_error("ControlNet settings given without --controlnet and --control-image");
    return {};
  }
  std::pair<double, double> thresholds{100, 200};
  if (!o.canny_thresholds.empty()) thresholds = parse_thresholds(o.canny_thresholds, "--canny-thresholds");
  std::vector<api::ControlNet> units;
  for (size_t i = 0; i < n; ++i) {
    api::ControlNet c;
    c.model = o.models[i];
    c.config_dir = per_unit(o.configs, i, n, "--controlnet-config", "");
    c.image = api::InputImage::read_file(o.images[i]);
    c.scale = number(per_unit(o.scales, i, n, "--control-scale", "1"), "--control-scale");
    c.start = number(per_unit(o.starts, i, n, "--control-start", "0"), "--control-start");
    c.end = number(per_unit(o.ends, i, n, "--control-end", "1"), "--control-end");
    if (!(c.start >= 0 && c.start < c.end && c.end <= 1))
      usage_error("--control-start / --control-end: unit " + std::to_string(i) + " needs 0 <= start < end <= 1, got " +
                  std::to_string(c.start) + " and " + std::to_string(c.end));
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

std::optional<std::string> control_option_of(const std::string& parameter) {
  if (parameter == "controlnets") return "--controlnet";
  if (parameter.rfind("controlnets[", 0) != 0) return std::nullopt;
  static const std::map<std::string, std::string> options{
      {"model", "--controlnet"},     {"image", "--control-image"},         {"scale", "--control-scale"},
      {"start", "--control-start"},  {"end", "--control-end"},             {"preprocessor", "--control-preprocessor"},
      {"resize_mode", "--control-resize"}, {"control_mode", "--control-mode"}, {"threshold_a", "--canny-thresholds"},
      {"resolution", "--control-resolution"}};
  const size_t dot = parameter.find("].");
  const std::string unit = parameter.substr(12, parameter.find(']') - 12);
  const std::string field = dot == std::string::npos ? "" : parameter.substr(dot + 2);
  const auto it = options.find(field);
  return (it == options.end() ? std::string("--controlnet") : it->second) + " (unit " + unit + ")";
}

}  // namespace sdxl::cli

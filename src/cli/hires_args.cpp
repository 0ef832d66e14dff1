#include "cli/hires_args.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>


namespace sdxl::cli {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void usage_error(const std::string& message) { throw CLI::ValidationError(message); }

const char* const kBuiltins[] = {"Latent",           "Latent (antialiased)",
                                 "Latent (bicubic)", "Latent (bicubic antialiased)",
                                 "Latent (nearest)", "Latent (nearest-exact)",
                                 "Lanczos",          "Nearest"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_model_file(const fs::path& p) {
  const std::string ext = lower(p.extension().string());
  return ext == ".pth" || ext == ".pt" || ext == ".safetensors" || ext == ".ckpt" || ext == ".bin";
}

// The model file `name` means: a path, or a file in `dir` whose name without extension is `name`.
std::optional<fs::path> find_model(const std::string& name, const std::string& dir) {
  std::error_code ec;
  if (fs::is_regular_file(name, ec)) return fs::path(name);
  if (dir.empty()) return std::nullopt;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    if (it->is_regular_file(ec) && is_model_file(it->path()) && lower(it->path().stem().string()) == lower(name))
      return it->path();
  return std::nullopt;
}

}  // namespace

void add_hires_options(CLI::App& cmd, HiresOptions& o) {
  const char* group = "Hires fix (AUTOMATIC1111's; txt2img)";
  cmd.add_option("--hires-scale", o.scale, "Hires fix: make the image, upscale it by F (hr_scale), and denoise it again")
      ->check(CLI::Range(1.0, 4.0))
      ->group(group);
  cmd.add_option("--hires-size", o.size, "Hires fix to WxH instead (hr_resize_x/y; 0 for a side: from the aspect)")->group(group);
  cmd.add_option("--hires-upscaler", o.upscaler,
                 "Latent (default), \"Latent (antialiased)\", \"Latent (bicubic)\", \"Latent (bicubic antialiased)\",\n"
                 "\"Latent (nearest)\", \"Latent (nearest-exact)\", Lanczos, Nearest, or an ESRGAN-family model: a file,\n"
                 "or its name in --upscaler-dir")
      ->group(group);
  cmd.add_option("--upscaler-dir", o.upscaler_dir, "Where --hires-upscaler finds models by name (.pth, .safetensors)")->group(group);
  cmd.add_option("--hires-steps", o.steps, "Steps of the second pass's schedule (hr_second_pass_steps; 0: --steps);\n"
                                          "int(steps x --hires-denoise) of them run")
      ->check(CLI::Range(0, 1000))
      ->group(group);
  cmd.add_option("--hires-denoise", o.denoise, "The second pass's denoising strength (default 0.7)")
      ->check(CLI::Range(0.0, 1.0))
      ->group(group);
  cmd.add_option("--hires-sampler", o.sampler, "The second pass's sampler (default: --sampler)")->group(group);
  cmd.add_option("--hires-prompt", o.prompt, "The second pass's prompt (default: the prompt)")->group(group);
  cmd.add_option("--hires-negative-prompt", o.negative_prompt, "The second pass's negative prompt (default: the negative)")
      ->group(group);
  cmd.add_option("--hires-cfg", o.cfg, "The second pass's guidance scale (default: --guidance)")->group(group);
}

std::optional<api::Hires> hires_of(const HiresOptions& o) {
  const bool on = o.scale || !o.size.empty();
  if (!on) {
    if (o.denoise || o.cfg || o.steps || o.prompt || o.negative_prompt || !o.sampler.empty() || o.upscaler != "Latent")
      usage_error("--hires-* options given without --hires-scale or --hires-size");
    return std::nullopt;
  }
  if (o.scale && !o.size.empty()) usage_error("--hires-scale and --hires-size: give one");
  api::Hires h;
  if (o.scale) h.scale = *o.scale;
  if (!o.size.empty()) {
    const size_t x = o.size.find('x');
    try {
      if (x == std::string::npos) throw std::invalid_argument("no x");
      size_t used = 0;
      h.resize_width = std::stoi(o.size.substr(0, x), &used);
      if (used != x) throw std::invalid_argument("width");
      h.resize_height = std::stoi(o.size.substr(x + 1), &used);
      if (used != o.size.size() - x - 1) throw std::invalid_argument("height");
    } catch (const std::exception&) {
      usage_error("--hires-size: '" + o.size + "' is not WxH (e.g. 2048x2048, or 2048x0 to keep the aspect)");
    }
    if (h.resize_width < 0 || h.resize_height < 0 || (h.resize_width == 0 && h.resize_height == 0))
      usage_error("--hires-size: '" + o.size + "' needs a positive side");
  }
  const bool builtin = std::find(std::begin(kBuiltins), std::end(kBuiltins), o.upscaler) != std::end(kBuiltins);
  if (!builtin) {
    const auto model = find_model(o.upscaler, o.upscaler_dir);
    if (!model) {
      std::string known;
      for (const char* b : kBuiltins) known += std::string(known.empty() ? "" : ", ") + b;
      usage_error("--hires-upscaler: '" + o.upscaler + "' is not one of " + known + ", a model file" +
                  (o.upscaler_dir.empty() ? std::string(" (or a name in --upscaler-dir)") : ", or a model in " + o.upscaler_dir));
    }
    h.upscaler_model = model->string();
    h.upscaler = model->stem().string();
  } else {
    h.upscaler = o.upscaler;
  }
  h.steps = o.steps;
  if (o.denoise) h.denoising_strength = *o.denoise;
  h.sampler = o.sampler;
  h.prompt = o.prompt;
  h.negative_prompt = o.negative_prompt;
  h.guidance_scale = o.cfg;
  return h;
}

std::optional<std::string> hires_option_of(const std::string& parameter) {
  static const std::map<std::string, std::string> options = {
      {"enable_hr", "--hires-scale/--hires-size"}, {"hr_scale", "--hires-scale"},  {"hr_resize_x", "--hires-size"},
      {"hr_resize_y", "--hires-size"},             {"hr_upscaler", "--hires-upscaler"}, {"hr_second_pass_steps", "--hires-steps"},
      {"denoising_strength", "--hires-denoise"},   {"hr_cfg", "--hires-cfg"},      {"hr_sampler_name", "--hires-sampler"}};
  const auto it = options.find(parameter);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

}  // namespace sdxl::cli

// `sdxl generate`: txt2img with diffusers' StableDiffusionXLPipeline semantics.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/progress_bar.h"
#include "sdxl/sdxl.hpp"

namespace sdxl::cli {

namespace {

namespace fs = std::filesystem;

struct Size {
  int width = 0, height = 0;
};
struct Crop {
  int top = 0, left = 0;
};

struct GenerateOptions {
  std::string model, variant = "";
  std::vector<std::string> prompts, negatives;
  std::optional<std::string> prompt_2, negative_prompt_2;
  int width = 1024, height = 1024, steps = 30;
  double guidance = 5.0, guidance_rescale = 0.0;
  std::optional<int> clip_skip;
  std::string sampler = "euler";
  bool karras = false;
  std::optional<uint64_t> seed;
  int batch = 1;
  std::string original_size, target_size, crop, negative_original_size, negative_target_size, negative_crop;
  std::string precision = "fp32";
  std::string output, output_latents;
};

[[noreturn]] void usage_error(const std::string& message) { throw CLI::ValidationError(message); }

Size parse_size(const std::string& text, const char* option) {
  Size s;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &s.width, &x, &s.height, &extra) != 3 || (x != 'x' && x != 'X') ||
      s.width <= 0 || s.height <= 0)
    usage_error(std::string(option) + ": expected WIDTHxHEIGHT (e.g. 1024x1024), got '" + text + "'");
  return s;
}

Crop parse_crop(const std::string& text, const char* option) {
  Crop c;
  char comma = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &c.top, &comma, &c.left, &extra) != 3 || comma != ',' || c.top < 0 || c.left < 0)
    usage_error(std::string(option) + ": expected TOP,LEFT (e.g. 0,0), got '" + text + "'");
  return c;
}

// The i-th output file: out.png for one image, out-1.png ... out-K.png for several.
std::string output_path(const std::string& base, int index, int count) {
  if (count == 1) return base;
  fs::path p(base);
  return (p.parent_path() / (p.stem().string() + "-" + std::to_string(index + 1) + p.extension().string())).string();
}

// Fails before any work when an output could not be written.
void check_writable(const std::string& path, const char* option) {
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) usage_error(std::string(option) + ": folder '" + dir.string() + "' does not exist");
  if (access(dir.c_str(), W_OK) != 0) usage_error(std::string(option) + ": folder '" + dir.string() + "' is not writable");
  if (fs::is_directory(p, ec)) usage_error(std::string(option) + ": '" + path + "' is a folder");
}

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  std::string s = out.str();
  if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) s += ".0";
  return s;
}

// AUTOMATIC1111's "parameters" text, which image viewers and web UIs read back.
std::string a1111_parameters(const GenerateOptions& o, const std::string& prompt, const std::string& negative,
                             uint64_t seed, const std::string& sampler_display) {
  std::ostringstream out;
  out << prompt << "\n";
  if (!negative.empty()) out << "Negative prompt: " << negative << "\n";
  out << "Steps: " << o.steps << ", Sampler: " << sampler_display << ", CFG scale: " << format_number(o.guidance)
      << ", Seed: " << seed << ", Size: " << o.width << "x" << o.height
      << ", Model: " << fs::path(o.model).filename().string();
  if (o.guidance_rescale > 0) out << ", CFG Rescale: " << format_number(o.guidance_rescale);
  if (o.clip_skip) out << ", Clip skip: " << *o.clip_skip;
  if (o.prompt_2) out << ", Prompt 2: \"" << *o.prompt_2 << "\"";
  out << ", Version: sdxl " << sdxl_version();
  return out.str();
}

std::string sampler_display(const std::string& name, bool karras) {
  static const std::pair<const char*, const char*> names[] = {
      {"euler", "Euler"}, {"euler_a", "Euler a"}, {"dpmpp_2m", "DPM++ 2M"}, {"dpmpp_2m_sde", "DPM++ 2M SDE"},
      {"ddim", "DDIM"},   {"heun", "Heun"},       {"lms", "LMS"},           {"unipc", "UniPC"},
      {"kdpm2", "DPM2"},  {"kdpm2_a", "DPM2 a"}};
  for (const auto& [key, display] : names)
    if (name == key) return std::string(display) + (karras ? " Karras" : "");
  return name;
}

int run_generate(const GenerateOptions& o) {
  if (o.width % 8 != 0 || o.height % 8 != 0 || o.width < 64 || o.height < 64 || o.width > 4096 || o.height > 4096)
    usage_error("--width/--height must be multiples of 8 between 64 and 4096, got " + std::to_string(o.width) + "x" +
                std::to_string(o.height));
  if (o.steps < 1 || o.steps > 1000) usage_error("--steps must be between 1 and 1000, got " + std::to_string(o.steps));
  if (!std::isfinite(o.guidance) || o.guidance < 0) usage_error("--guidance must be a finite number >= 0");
  if (!std::isfinite(o.guidance_rescale) || o.guidance_rescale < 0 || o.guidance_rescale > 1)
    usage_error("--guidance-rescale must be between 0 and 1");
  if (!o.negatives.empty() && o.negatives.size() != 1 && o.negatives.size() != o.prompts.size())
    usage_error("-n/--negative: give one negative prompt for all prompts or one per prompt (" +
                std::to_string(o.prompts.size()) + ")");
  if (o.precision != "fp32") usage_error("--precision " + o.precision + " is not implemented yet (fp32 is)");
  check_writable(o.output, "-o/--output");
  if (!o.output_latents.empty()) check_writable(o.output_latents, "--output-latents");

  std::vector<const char*> prompts, negatives;
  for (const auto& p : o.prompts) prompts.push_back(p.c_str());
  for (const auto& n : o.negatives) negatives.push_back(n.c_str());
  const uint64_t seed = o.seed ? *o.seed : (static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}()) >> 11;

  sdxl_generate_params params;
  sdxl_generate_params_init(&params);
  params.prompts = prompts.data();
  params.prompt_count = static_cast<int>(prompts.size());
  params.negative_prompts = negatives.data();
  params.negative_prompt_count = static_cast<int>(negatives.size());
  params.prompt_2 = o.prompt_2 ? o.prompt_2->c_str() : nullptr;
  params.negative_prompt_2 = o.negative_prompt_2 ? o.negative_prompt_2->c_str() : nullptr;
  params.width = o.width;
  params.height = o.height;
  params.steps = o.steps;
  params.guidance_scale = o.guidance;
  params.guidance_rescale = o.guidance_rescale;
  params.clip_skip = o.clip_skip ? *o.clip_skip : -1;
  params.sampler = o.sampler.c_str();
  params.karras = o.karras ? 1 : 0;
  params.seed = seed;
  params.images_per_prompt = o.batch;
  if (!o.original_size.empty()) {
    Size s = parse_size(o.original_size, "--original-size");
    params.original_width = s.width;
    params.original_height = s.height;
  }
  if (!o.target_size.empty()) {
    Size s = parse_size(o.target_size, "--target-size");
    params.target_width = s.width;
    params.target_height = s.height;
  }
  if (!o.crop.empty()) {
    Crop c = parse_crop(o.crop, "--crop-top-left");
    params.crop_top = c.top;
    params.crop_left = c.left;
  }
  if (!o.negative_original_size.empty()) {
    Size s = parse_size(o.negative_original_size, "--negative-original-size");
    params.negative_original_width = s.width;
    params.negative_original_height = s.height;
  }
  if (!o.negative_target_size.empty()) {
    Size s = parse_size(o.negative_target_size, "--negative-target-size");
    params.negative_target_width = s.width;
    params.negative_target_height = s.height;
  }
  if (!o.negative_crop.empty()) {
    Crop c = parse_crop(o.negative_crop, "--negative-crop-top-left");
    params.negative_crop_top = c.top;
    params.negative_crop_left = c.left;
  }
  ProgressBar bar("denoising");
  params.progress = [](int step, int total, void* user) { static_cast<ProgressBar*>(user)->update(step, total); };
  params.progress_user_data = &bar;

  api::Pipeline pipeline(o.model, o.variant);
  api::Images images(pipeline, params);
  bar.finish();

  const int count = images.count();
  const int per_prompt = o.batch;
  for (int i = 0; i < count; ++i) {
    const size_t prompt_index = static_cast<size_t>(i / per_prompt);
    const std::string negative =
        o.negatives.empty() ? "" : o.negatives.size() == 1 ? o.negatives[0] : o.negatives[prompt_index];
    const std::string path = output_path(o.output, i, count);
    images.write_png(path, i, a1111_parameters(o, o.prompts[prompt_index], negative, seed, sampler_display(o.sampler, o.karras)));
    std::printf("%s\n", path.c_str());
  }
  if (!o.output_latents.empty()) images.write_latents(o.output_latents);
  std::fprintf(stderr, "seed %llu\n", static_cast<unsigned long long>(seed));
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Generate images from text (txt2img), as diffusers' StableDiffusionXLPipeline does: the same seed gives\n"
      "the same image as torch.Generator(\"cpu\").manual_seed(seed). Writes PNG files with the settings in an\n"
      "AUTOMATIC1111-style \"parameters\" text chunk.");
  // A repeated option takes its last value (a wrapper script's default, then the user's choice).
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("-m,--model", o->model, "SDXL pipeline folder (diffusers layout, with model_index.json)")->required();
  cmd->add_option("-p,--prompt", o->prompts, "Prompt; repeat -p for a batch of prompts")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-n,--negative", o->negatives, "Negative prompt: once for all prompts, or once per prompt")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--prompt-2", o->prompt_2, "Prompt for the second text encoder (default: the prompt)");
  cmd->add_option("--negative-prompt-2", o->negative_prompt_2, "Negative prompt for the second text encoder");
  cmd->add_option("-W,--width", o->width, "Image width in pixels, a multiple of 8")->capture_default_str();
  cmd->add_option("-H,--height", o->height, "Image height in pixels, a multiple of 8")->capture_default_str();
  cmd->add_option("--steps", o->steps, "Denoising steps")->capture_default_str();
  cmd->add_option("--guidance", o->guidance, "Classifier-free guidance scale; 1 disables it")->capture_default_str();
  cmd->add_option("--guidance-rescale", o->guidance_rescale, "Guidance rescale factor (0..1)")->capture_default_str();
  cmd->add_option("--clip-skip", o->clip_skip, "Take the prompt embeddings N layers earlier")->check(CLI::NonNegativeNumber);
  cmd->add_option("--sampler", o->sampler,
                  "euler, euler_a, dpmpp_2m, dpmpp_2m_sde, ddim, heun, lms, unipc, kdpm2, kdpm2_a")
      ->check(CLI::IsMember({"euler", "euler_a", "dpmpp_2m", "dpmpp_2m_sde", "ddim", "heun", "lms", "unipc", "kdpm2",
                             "kdpm2_a"}))
      ->capture_default_str();
  cmd->add_flag("--karras", o->karras, "Karras sigmas (all samplers but euler_a and ddim)");
  cmd->add_option("--seed", o->seed, "Random seed (default: a random one, printed on stderr)");
  cmd->add_option("--batch", o->batch, "Images per prompt")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--variant", o->variant, "Weights variant, e.g. fp16 (*.fp16.safetensors)");
  cmd->add_option("--original-size", o->original_size, "Micro-conditioning original size WxH (default: the size)");
  cmd->add_option("--crop-top-left", o->crop, "Micro-conditioning crop TOP,LEFT (default 0,0)");
  cmd->add_option("--target-size", o->target_size, "Micro-conditioning target size WxH (default: the size)");
  cmd->add_option("--negative-original-size", o->negative_original_size, "Original size for the negative prompt, WxH");
  cmd->add_option("--negative-crop-top-left", o->negative_crop, "Crop for the negative prompt, TOP,LEFT");
  cmd->add_option("--negative-target-size", o->negative_target_size, "Target size for the negative prompt, WxH");
  cmd->add_option("--precision", o->precision, "fp32 (bf16: not yet)")->capture_default_str();
  cmd->add_option("-o,--output", o->output, "Output PNG (several images: out-1.png, out-2.png, ...)")->required();
  cmd->add_option("--output-latents", o->output_latents,
                  "Also write the final latents (NCHW f32, before the VAE) as a safetensors tensor \"latents\"");
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    return run_generate(*o);
  };
}

}  // namespace sdxl::cli

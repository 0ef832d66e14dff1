// `sdxl generate`: parses the options, makes one library call (txt2img, img2img, inpainting and
// the refiner are the library's) and writes the images (PNG, JPEG, WebP) with AUTOMATIC1111's
// parameters text.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/control_args.h"
#include "cli/hires_args.h"
#include "cli/lora_arg.h"
#include "cli/model_options.h"
#include "cli/progress_bar.h"
#include "sdxl/generation.hpp"

namespace sdxl::cli {

namespace {

namespace fs = std::filesystem;

// What the command line says: the generation itself (options bound to its members) and what
// only the CLI has: the models, the outputs, and options given as text (sizes, LoRA lists).
struct GenerateOptions {
  api::Generation generation;
  std::string model, variant, precision = "fp32";
  std::vector<std::string> prompts, negatives;
  std::optional<int> clip_skip;
  bool karras = false;
  std::optional<int> mask_blur;
  std::string inpaint_fill;  // fill, original, noise, nothing
  std::optional<uint64_t> seed;
  std::string original_size, target_size, crop, negative_original_size, negative_target_size, negative_crop;
  std::string seed_resize_from;  // WxH
  std::string output, output_latents;
  int quality = 80;  // JPEG and WebP outputs
  std::string init_image, mask, refiner, refiner_mode = "ensemble";
  bool low_memory = false;
  std::string preview;  // a PNG rewritten during sampling
  int preview_every = 1;
  std::string taesd;  // a tiny autoencoder folder
  bool taesd_encode = false;
  std::string config, refiner_config;             // single files: the folders of their architecture
  std::vector<std::string> loras, refiner_loras;  // FILE[:WEIGHT]
  std::string vae;                                // a VAE to use instead of the model's
  std::string lora_dir;
  std::string cache_dir;  // the packed-weight cache (--cache-dir, --no-cache, --cache-max-gb)
  bool no_cache = false;
  double cache_max_gb = 64;
  bool width_given = false, height_given = false;  // -W, -H on the command line
  ControlOptions control;
  HiresOptions hires;
};

[[noreturn]] void usage_error(const std::string& message) { throw CLI::ValidationError(message); }

api::SizeWH parse_size(const std::string& text, const char* option) {
  api::SizeWH s;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &s.width, &x, &s.height, &extra) != 3 || (x != 'x' && x != 'X') ||
      s.width <= 0 || s.height <= 0)
    usage_error(std::string(option) + ": expected WIDTHxHEIGHT (e.g. 1024x1024), got '" + text + "'");
  return s;
}

api::TopLeft parse_crop(const std::string& text, const char* option) {
  api::TopLeft c;
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

// The output's format from its extension, as AUTOMATIC1111 picks it from samples_format: .jpg /
// .jpeg and .webp (the parameters in EXIF), PNG otherwise.
std::string output_format(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".jpg" || ext == ".jpeg") return "jpeg";
  if (ext == ".webp") return "webp";
  return "png";
}

// Fails before any work when an output could not be written.
void check_writable(const std::string& path, const char* option) {
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) usage_error(std::string(option) + ": folder '" + dir.string() + "' does not exist");
  if (access(dir.c_str(), W_OK) != 0) usage_error(std::string(option) + ": folder '" + dir.string() + "' is not writable");
  if (fs::is_directory(p, ec)) usage_error(std::string(option) + ": '" + path + "' is a folder");
  const fs::file_status st = fs::symlink_status(p, ec);
  if (!ec && fs::exists(st) && !fs::is_regular_file(st) && !fs::is_symlink(st))
    usage_error(std::string(option) + ": '" + path + "' exists and is not a regular file (a FIFO or a device is not replaced)");
}

// Writes every output or none: each to a temporary beside its target (the library writes it
// whole, exclusively), renamed over the targets only once all are written.
class StagedOutputs {
 public:
  StagedOutputs() = default;
  StagedOutputs(const StagedOutputs&) = delete;
  StagedOutputs& operator=(const StagedOutputs&) = delete;
  ~StagedOutputs() {
    for (const auto& [temporary, target] : staged_) std::remove(temporary.c_str());
  }
  // A fresh temporary name beside `target`, recorded for commit().
  std::string stage(const std::string& target) {
    const fs::path p(target);
    std::random_device random;
    char suffix[32];
    std::snprintf(suffix, sizeof suffix, ".%08x%08x.partial", random(), random());
    const fs::path temporary = p.parent_path() / ("." + p.filename().string() + suffix + p.extension().string());
    staged_.emplace_back(temporary.string(), target);
    return staged_.back().first;
  }
  void commit() {
    for (const auto& [temporary, target] : staged_) check_writable(target, "-o/--output");  // still no FIFO there
    for (const auto& [temporary, target] : staged_)
      if (std::rename(temporary.c_str(), target.c_str()) != 0)
        throw std::runtime_error("cannot write " + target + ": " + std::strerror(errno));
    staged_.clear();
  }

 private:
  std::vector<std::pair<std::string, std::string>> staged_;
};

// "--sampler" help from the sampler table: each name with AUTOMATIC1111's name for it.
std::string sampler_help() {
  std::string help = "Sampler (AUTOMATIC1111's names are accepted too):";
  for (int i = 0; i < sdxl_sampler_count(); ++i) {
    const sdxl_sampler_info* s = sdxl_sampler_at(i);
    help += std::string(i % 4 == 0 ? "\n  " : ", ") + s->name + " (" + s->display_name + ")";
  }
  return help;
}

// One progress bar per stage that counts steps ("denoising", then "refining" or "hires"); the VAE's
// blocks go by without a bar. With --preview, the step's preview is written to that file; a
// preview that cannot be written is reported once and the generation goes on.
struct StageProgress {
  std::unique_ptr<ProgressBar> bar;
  std::string stage;
  std::string preview_path;
  bool preview_failed = false;
  static int callback(const sdxl_progress* p, void* user) {
    auto& self = *static_cast<StageProgress*>(user);
    const std::string stage = p->stage;
    if (stage != "denoising" && stage != "refining" && stage != "hires") return 0;
    if (stage != self.stage) {
      if (self.bar) self.bar->finish();
      self.bar = std::make_unique<ProgressBar>(stage);
      self.stage = stage;
    }
    self.bar->update(p->step, p->total_steps);
    if (p->preview && !self.preview_path.empty() && !self.preview_failed &&
        sdxl_write_image_png(self.preview_path.c_str(), p->preview, p->preview_width, p->preview_height, 3) != SDXL_STATUS_OK) {
      self.preview_failed = true;
      std::fprintf(stderr, "sdxl: warning: no more previews: %s\n", sdxl_last_error());
    }
    return 0;
  }
  ~StageProgress() {
    if (bar) bar->finish();
  }
};

// The option that sets a library parameter (sdxl_last_error_parameter), for its errors.
std::string option_of(const std::string& parameter, const ControlOptions& control_options) {
  static const std::map<std::string, std::string> options = {
      {"prompts", "-p/--prompt"},
      {"negative_prompts", "-n/--negative"},
      {"prompt_syntax", "--prompt-syntax"},
      {"width", "-W/--width"},
      {"height", "-H/--height"},
      {"steps", "--steps"},
      {"guidance_scale", "--guidance"},
      {"guidance_rescale", "--guidance-rescale"},
      {"clip_skip", "--clip-skip"},
      {"sampler", "--sampler"},
      {"scheduler", "--karras"},
      {"timestep_spacing", "--timestep-spacing"},
      {"images_per_prompt", "--batch"},
      {"shared_generator", "--shared-generator"},
      {"subseed", "--subseed"},
      {"subseed_strength", "--subseed-strength"},
      {"seed_resize_from_width", "--seed-resize-from"},
      {"seed_resize_from_height", "--seed-resize-from"},
      {"eta", "--eta"},
      {"ancestral_eta", "--ancestral-eta"},
      {"original_width", "--original-size"},
      {"target_width", "--target-size"},
      {"negative_original_width", "--negative-original-size"},
      {"negative_target_width", "--negative-target-size"},
      {"init_image", "--init-image"},
      {"mask", "--mask"},
      {"mask_blur_x", "--mask-blur"},
      {"mask_blur_y", "--mask-blur"},
      {"inpaint_padding", "--inpaint-padding"},
      {"inpaint_fill", "--inpaint-fill"},
      {"inpaint_only_masked", "--inpaint-only-masked"},
      {"initial_noise_multiplier", "--noise-multiplier"},
      {"strength", "--strength"},
      {"refiner_mode", "--refiner-mode"},
      {"high_noise_frac", "--high-noise-frac"},
      {"refiner_strength", "--refiner-strength"},
      {"aesthetic_score", "--aesthetic-score"},
      {"loras", "--lora"},
      {"refiner_loras", "--refiner-lora"}};
  if (const auto control = control_option_of(parameter, control_options.models.size())) return *control;
  if (const auto hires = hires_option_of(parameter)) return *hires;
  const auto it = options.find(parameter);
  return it == options.end() ? parameter : it->second;
}

// The generation the options ask for: their text parsed, the files they name read.
api::Generation generation_of(const GenerateOptions& o) {
  api::Generation g = o.generation;
  g.prompts = o.prompts;
  g.negative_prompts = o.negatives;
  if (o.clip_skip) g.clip_skip = *o.clip_skip;
  if (o.karras) g.scheduler = "karras";
  if (o.mask_blur) g.mask_blur_x = g.mask_blur_y = *o.mask_blur;
  if (!o.inpaint_fill.empty())
    g.inpaint_fill = o.inpaint_fill == "noise" ? "latent_noise" : o.inpaint_fill == "nothing" ? "latent_nothing" : o.inpaint_fill;
  g.seed = o.seed ? *o.seed : (static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}()) >> 11;
  if (!o.original_size.empty()) g.original_size = parse_size(o.original_size, "--original-size");
  if (!o.seed_resize_from.empty()) g.seed_resize_from = parse_size(o.seed_resize_from, "--seed-resize-from");
  if (!o.target_size.empty()) g.target_size = parse_size(o.target_size, "--target-size");
  if (!o.negative_original_size.empty()) g.negative_original_size = parse_size(o.negative_original_size, "--negative-original-size");
  if (!o.negative_target_size.empty()) g.negative_target_size = parse_size(o.negative_target_size, "--negative-target-size");
  if (!o.crop.empty()) g.crops_coords_top_left = parse_crop(o.crop, "--crop-top-left");
  if (!o.negative_crop.empty()) g.negative_crops_coords_top_left = parse_crop(o.negative_crop, "--negative-crop-top-left");
  if (!o.init_image.empty()) {
    g.image = api::InputImage::read_file(o.init_image);
    // -W/-H resize the image (a missing one keeps its side); else its own size, rounded down to
    // a multiple of 8.
    g.fit_to_size = o.width_given || o.height_given;
    if (!o.width_given) g.width = g.image->width;
    if (!o.height_given) g.height = g.image->height;
  }
  if (!o.mask.empty()) g.mask_image = api::InputImage::read_file(o.mask);
  g.refiner_mode = o.refiner.empty() ? "none" : o.refiner_mode;
  if (!o.preview.empty()) g.preview_every = o.preview_every;
  for (const auto& l : o.loras) {
    const LoraArg arg = parse_lora_arg(l, "--lora");
    g.loras.push_back({arg.path, arg.weight});
  }
  for (const auto& l : o.refiner_loras) {
    const LoraArg arg = parse_lora_arg(l, "--refiner-lora");
    g.refiner_loras.push_back({arg.path, arg.weight});
  }
  g.controlnets = control_units(o.control);
  g.ip_adapter = ip_adapter_of(o.control);
  g.guess_mode = o.control.guess_mode;
  g.hires = hires_of(o.hires);
  return g;
}

int run_generate(const GenerateOptions& o) {
  if (o.taesd_encode && o.taesd.empty()) usage_error("--taesd-encode needs --taesd");
  if (!o.refiner_loras.empty() && o.refiner.empty()) usage_error("--refiner-lora needs --refiner");
  check_writable(o.output, "-o/--output");
  if (!o.output_latents.empty()) check_writable(o.output_latents, "--output-latents");
  if (!o.preview.empty()) {
    check_writable(o.preview, "--preview");
    if (o.preview_every < 1) usage_error("--preview-every must be at least 1");
  }
  const api::Generation generation = generation_of(o);
  api::GenerateParams call(generation);
  sdxl_generate_params& params = call.get();
  StageProgress progress;
  progress.preview_path = o.preview;
  params.progress = StageProgress::callback;
  params.progress_user_data = &progress;

  // One model in memory at a time: the CLI makes one call and exits (the library checks the
  // request before it loads any weights). A value the library refuses is a usage error naming
  // the option that set it.
  std::unique_ptr<api::Engine> engine;
  std::unique_ptr<api::Images> generated;
  try {
    api::EngineOptions options;
    options.model_dir = o.model;
    options.refiner_dir = o.refiner;
    options.variant = o.variant;
    options.precision = o.precision;
    options.memory = SDXL_MEMORY_ONE_SHOT;
    options.taesd_dir = o.taesd;
    options.taesd_encode = o.taesd_encode;
    options.config_dir = o.config;
    options.refiner_config_dir = o.refiner_config;
    options.lora_dir = o.lora_dir;
    options.vae_path = o.vae;
    options.packed_cache_dir = api::packed_cache_folder(o.cache_dir, o.no_cache);
    options.packed_cache_max_gb = o.cache_max_gb;
    engine = std::make_unique<api::Engine>(options);
    generated = std::make_unique<api::Images>(*engine, params);
  } catch (const api::Failure& e) {
    const std::string message = e.parameter().empty() ? e.what() : option_of(e.parameter(), o.control) + ": " + e.what();
    if (e.status() == SDXL_STATUS_INVALID_ARGUMENT) usage_error(message);
    throw std::runtime_error(message);
  }
  const api::Images& images = *generated;

  const int count = images.count();
  StagedOutputs outputs;  // a failure half-way leaves none of them
  const std::string format = output_format(o.output);
  for (int i = 0; i < count; ++i) {
    const std::string staged = outputs.stage(output_path(o.output, i, count));
    const std::string parameters = images.infotext(*engine, params, i);
    if (format == "png") {
      images.write_png(staged, i, parameters);
    } else {
      std::ofstream out(staged, std::ios::binary);
      const std::string bytes = images.encode(i, format, o.quality, parameters);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      if (!out.flush()) throw std::runtime_error("-o/--output: cannot write " + staged);
    }
  }
  if (!o.output_latents.empty()) images.write_latents(outputs.stage(o.output_latents));
  outputs.commit();
  for (int i = 0; i < count; ++i) std::printf("%s\n", output_path(o.output, i, count).c_str());
  std::fprintf(stderr, "seed %llu\n", static_cast<unsigned long long>(generation.seed));
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "Generate images as diffusers' SDXL pipelines do: from text (txt2img), from an image (--init-image:\n"
      "img2img; with --mask: inpainting), steered by ControlNets (--controlnet with --control-image),\n"
      "optionally finished by a refiner (--refiner). The same seed gives\n"
      "the same image as torch.Generator(\"cpu\").manual_seed(seed). Writes PNG files with the settings in an\n"
      "AUTOMATIC1111-style \"parameters\" text chunk.");
  // A repeated option takes its last value (a wrapper script's default, then the user's choice).
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  cmd->add_option("-m,--model", o->model,
                  "SDXL pipeline folder (diffusers layout, with model_index.json), or a single-file checkpoint\n"
                  "(.safetensors in the original Stability layout) with --config")
      ->required();
  cmd->add_option("--config", o->config,
                  "For a single-file -m: the diffusers folder of its architecture (configs, tokenizers, scheduler)");
  cmd->add_option("--refiner-config", o->refiner_config, "For a single-file --refiner: the same");
  cmd->add_option("--vae", o->vae,
                  "A VAE instead of the model's: a diffusers AutoencoderKL folder (sdxl-vae-fp16-fix runs in bf16\n"
                  "under --precision bf16) or a single .safetensors file (sdxl_vae.safetensors)");
  cmd->add_option("--lora", o->loras,
                  "A LoRA to merge in, FILE.safetensors[:WEIGHT] (default weight 1; repeatable, they add up):\n"
                  "kohya/AUTOMATIC1111, PEFT/diffusers, LyCORIS LoHa and LoKr, full diff, DoRA");
  cmd->add_option("--lora-dir", o->lora_dir,
                  "Folder where <lora:NAME:WEIGHT> tags in the prompt find NAME.safetensors (AUTOMATIC1111's syntax;\n"
                  "the tags are removed from the text)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--refiner-lora", o->refiner_loras, "A LoRA for the refiner, FILE.safetensors[:WEIGHT] (repeatable)");
  cmd->add_option("-p,--prompt", o->prompts, "Prompt; repeat -p for a batch of prompts")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-n,--negative", o->negatives, "Negative prompt: once for all prompts, or once per prompt")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--prompt-syntax", o->generation.prompt_syntax,
                  "plain: diffusers' (77 tokens, brackets are text); a1111: AUTOMATIC1111's (emphasis:1.2), [less],\n"
                  "BREAK, prompts of any length in 75-token chunks, textual-inversion embeddings by name")
      ->check(CLI::IsMember({"plain", "a1111"}))
      ->capture_default_str();
  cmd->add_option("--embedding-dir", o->generation.embedding_dir,
                  "a1111: a folder of SDXL textual-inversion embeddings (NAME.safetensors with clip_l and clip_g),\n"
                  "each used where NAME is written in the prompt or negative prompt");
  cmd->add_option("--prompt-2", o->generation.prompt_2, "Prompt for the second text encoder (default: the prompt)");
  cmd->add_option("--negative-prompt-2", o->generation.negative_prompt_2, "Negative prompt for the second text encoder");
  auto* width_option = cmd->add_option("-W,--width", o->generation.width, "Image width in pixels, a multiple of 8")->capture_default_str();
  auto* height_option = cmd->add_option("-H,--height", o->generation.height, "Image height in pixels, a multiple of 8")->capture_default_str();
  cmd->add_option("--steps", o->generation.steps, "Denoising steps")->capture_default_str();
  cmd->add_option("--guidance", o->generation.guidance_scale, "Classifier-free guidance scale; 1 disables it")->capture_default_str();
  cmd->add_option("--guidance-rescale", o->generation.guidance_rescale, "Guidance rescale factor (0..1)")->capture_default_str();
  cmd->add_option("--clip-skip", o->clip_skip, "Take the prompt embeddings N layers earlier")->check(CLI::NonNegativeNumber);
  cmd->add_option("--sampler", o->generation.sampler, sampler_help())->capture_default_str();
  cmd->add_option("--eta", o->generation.eta, "DDIM's eta: 0 deterministic (default), 1 DDPM-like (--sampler ddim only)");
  cmd->add_option("--ancestral-eta", o->generation.ancestral_eta,
                  "Euler a's eta (AUTOMATIC1111's and k-diffusion's): the share of fresh noise per step, 1 (default,\n"
                  "diffusers') to 0 (deterministic) (--sampler euler_a only)");
  cmd->add_flag("--karras", o->karras, "Karras sigmas (all samplers but euler_a, ddim and lcm)");
  cmd->add_option("--timestep-spacing", o->generation.timestep_spacing,
                  "leading, linspace or trailing (default: the model's scheduler config; SDXL-Turbo and -Lightning\n"
                  "use trailing)")
      ->check(CLI::IsMember({"leading", "linspace", "trailing"}));
  cmd->add_option("--preview", o->preview,
                  "Rewrite this PNG with a preview of the image during sampling (decoded by --taesd when given,\n"
                  "else a small linear projection of the latents)");
  cmd->add_option("--taesd", o->taesd,
                  "A tiny autoencoder (diffusers AutoencoderTiny folder, as madebyollin/taesdxl): decodes the image\n"
                  "in a fraction of the VAE's time, a little less sharply, and makes full-size previews");
  cmd->add_flag("--taesd-encode", o->taesd_encode, "Also encode the init image with --taesd (img2img, inpainting)");
  cmd->add_option("--preview-every", o->preview_every, "Steps between previews")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed (default: a random one, printed on stderr)");
  cmd->add_option("--batch", o->generation.images_per_prompt,
                  "Images per prompt; image i takes seed + i and is the single image of that seed")
      ->capture_default_str();
  cmd->add_option("--subseed", o->generation.subseed, "A variation seed (AUTOMATIC1111's): see --subseed-strength");
  cmd->add_option("--seed-resize-from", o->seed_resize_from,
                  "AUTOMATIC1111's 'resize seed from' WxH: the noise (and variation noise) of the seed drawn at\n"
                  "this size and centred in the image's, so an image keeps its composition at another size");
  cmd->add_option("--subseed-strength", o->generation.subseed_strength,
                  "Move the starting noise toward --subseed's by this much, in [0, 1] (0: none); every image then\n"
                  "keeps --seed and image i takes variation seed subseed + i")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_flag("--shared-generator", o->generation.shared_generator,
                "One random generator for the whole batch, as diffusers with one torch.Generator (image i then\n"
                "depends on the batch it was made in and its PNG text names the batch's seed)");
  cmd->add_option("--variant", o->variant, "Weights variant, e.g. fp16 (*.fp16.safetensors)");
  cmd->add_option("--original-size", o->original_size, "Micro-conditioning original size WxH (default: the size)");
  cmd->add_option("--crop-top-left", o->crop, "Micro-conditioning crop TOP,LEFT (default 0,0)");
  cmd->add_option("--target-size", o->target_size, "Micro-conditioning target size WxH (default: the size)");
  cmd->add_option("--negative-original-size", o->negative_original_size, "Original size for the negative prompt, WxH");
  cmd->add_option("--negative-crop-top-left", o->negative_crop, "Crop for the negative prompt, TOP,LEFT");
  cmd->add_option("--negative-target-size", o->negative_target_size, "Target size for the negative prompt, WxH");
  cmd->add_option("--precision", o->precision,
                  "fp32, or bf16: bf16 matmuls and convolutions with fp32 accumulation (the VAE stays fp32)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  add_cache_options(*cmd, o->cache_dir, o->no_cache, o->cache_max_gb);
  cmd->add_option("--init-image", o->init_image, "img2img: start from this PNG or JPEG (the output takes its size, rounded down to a multiple of 8, "
                  "unless -W/-H are given; the image is resized with Lanczos as diffusers does)");
  cmd->add_option("--strength", o->generation.strength, "img2img: how much of the schedule to run, in (0, 1]")->capture_default_str();
  cmd->add_option("--mask", o->mask, "Inpainting: a PNG or JPEG mask of the init image's size, white = repaint");
  cmd->add_flag("--mask-invert", o->generation.mask_invert, "Inpainting: repaint the black area instead (AUTOMATIC1111's \"inpaint not masked\")");
  cmd->add_option("--mask-blur", o->mask_blur, "Inpainting: blur the mask by N pixels first (AUTOMATIC1111's mask blur, its default 4)")
      ->check(CLI::Range(0, 64));
  cmd->add_flag("--inpaint-only-masked", o->generation.inpaint_only_masked,
                "Inpainting: work on the box around the mask at -W x -H and paste it back into the whole image\n"
                "(AUTOMATIC1111's \"only masked\")");
  cmd->add_option("--inpaint-padding", o->generation.inpaint_padding, "With --inpaint-only-masked: pixels of context around the mask")
      ->check(CLI::Range(0, 8192));
  cmd->add_option("--inpaint-fill", o->inpaint_fill,
                  "Inpainting: what the masked area starts from: original (default), fill (its surroundings' colours),\n"
                  "noise or nothing (latent noise, latent zeros), as AUTOMATIC1111's \"masked content\"")
      ->check(CLI::IsMember({"fill", "original", "noise", "nothing"}));
  cmd->add_option("--noise-multiplier", o->generation.initial_noise_multiplier,
                  "Inpainting / img2img: scale the starting noise (AUTOMATIC1111's initial noise multiplier)");
  cmd->add_flag("--inpaint-overlay", o->generation.inpaint_overlay,
                "Inpainting: put the original back over the result outside the (blurred) mask, as AUTOMATIC1111 does");
  cmd->add_option("--refiner", o->refiner, "An SDXL refiner (folder or single file) to finish the images with");
  cmd->add_option("--refiner-mode", o->refiner_mode,
                  "ensemble: the base denoises the high-noise part and hands over its latents;\n"
                  "img2img: the base finishes, then the refiner runs img2img on its latents")
      ->check(CLI::IsMember({"ensemble", "img2img"}))
      ->capture_default_str();
  cmd->add_option("--high-noise-frac", o->generation.high_noise_frac, "Ensemble: the fraction of the schedule the base runs")
      ->capture_default_str();
  cmd->add_option("--refiner-strength", o->generation.refiner_strength, "img2img refiner mode: its strength")->capture_default_str();
  cmd->add_option("--refiner-seed", o->generation.refiner_seed, "Seed of the refiner's generator (default: --seed)");
  cmd->add_option("--aesthetic-score", o->generation.aesthetic_score, "Refiner conditioning")->capture_default_str();
  cmd->add_option("--negative-aesthetic-score", o->generation.negative_aesthetic_score, "Refiner conditioning")->capture_default_str();
  // The CLI always frees the base before loading the refiner now: accepted, hidden, for old scripts.
  cmd->add_flag("--low-memory", o->low_memory, "")->group("");
  cmd->add_flag("--vae-tiling", o->generation.vae_tiling,
                "Decode the image a band of rows at a time, normalising with whole-image statistics: the\n"
                "same image (unlike diffusers' tiles) with a quarter of the decoder's memory, for\n"
                "~1.4x its time (at 1024x1024: 1 GiB instead of 4)");
  add_control_options(*cmd, o->control);
  add_hires_options(*cmd, o->hires);
  cmd->add_option("-o,--output", o->output,
                  "Output image (several images: out-1.png, out-2.png, ...): PNG, or JPEG / WebP by a .jpg,\n"
                  ".jpeg or .webp extension, the parameters in EXIF as AUTOMATIC1111 writes them")->required();
  auto* quality_option = cmd->add_option("--quality", o->quality, "JPEG and WebP quality (AUTOMATIC1111's jpeg_quality)")
                             ->check(CLI::Range(1, 100))
                             ->default_val(80);
  cmd->add_option("--output-latents", o->output_latents,
                  "Also write the final latents (NCHW f32, before the VAE) as a safetensors tensor \"latents\"");
  return [cmd, o, width_option, height_option, quality_option]() -> int {
    if (!cmd->parsed()) return -1;
    if (quality_option->count() > 0 && output_format(o->output) == "png")
      throw CLI::ValidationError("--quality: a PNG has no quality; name a .jpg or .webp output (-o) to use it");
    o->width_given = width_option->count() > 0;
    o->height_given = height_option->count() > 0;
    return run_generate(*o);
  };
}

}  // namespace sdxl::cli

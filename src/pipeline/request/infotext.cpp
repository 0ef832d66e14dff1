#include "pipeline/request/infotext.h"

#include <algorithm>
#include <sstream>

#include "io/file_hash.h"
#include "pipeline/engine.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;

std::string number(double v) {
  std::ostringstream out;
  out << v;
  std::string s = out.str();
  if (s.find('.') == std::string::npos && s.find('e') == std::string::npos) s += ".0";
  return s;
}

// A single file by its stem and the first 10 digits of its SHA-256 ("AutoV2"); a folder by its
// name, without a hash.
void write_model(std::ostream& out, const fs::path& path, const char* hash_field, const char* name_field) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    out << ", " << hash_field << ": "
        << io::file_sha256(path, io::FileHashKind::WholeFile, io::default_hash_cache()).substr(0, 10) << ", " << name_field
        << ": " << infotext_quote(path.stem().string());
  } else {
    const fs::path name = path.filename().empty() ? path.parent_path().filename() : path.filename();
    out << ", " << name_field << ": " << infotext_quote(name.string());
  }
}

// "name: hash, ..." with A1111's alias rule (no ':' or ',' in names) and its LoRA hash: the
// first 12 digits of the data's SHA-256.
std::string lora_hashes(const std::vector<lora::LoraSpec>& loras) {
  std::string out;
  for (const auto& l : loras) {
    std::string name = l.path.stem().string();
    name.erase(std::remove_if(name.begin(), name.end(), [](char c) { return c == ':' || c == ','; }), name.end());
    out += (out.empty() ? "" : ", ") + name + ": " +
           io::file_sha256(l.path, io::FileHashKind::SafetensorsData, io::default_hash_cache()).substr(0, 12);
  }
  return out;
}

}  // namespace

std::string model_name_with_hash(const fs::path& model, const std::vector<std::string>& folder_files) {
  std::error_code ec;
  const bool folder = fs::is_directory(model, ec);
  fs::path file = model;
  for (const auto& name : folder ? folder_files : std::vector<std::string>{})
    if (fs::exists(model / name, ec)) {
      file = model / name;
      break;
    }
  const fs::path named = model.filename().empty() ? model.parent_path() : model;
  const std::string stem = folder ? named.filename().string() : named.stem().string();
  return stem + " [" + (fs::is_regular_file(file, ec) ? io::a1111_short_model_hash(file) : std::string("NOFILE")) + "]";
}

std::string controlnet_model_name(const ControlSpec& spec) {
  if (!spec.name.empty()) return spec.name;
  return model_name_with_hash(spec.model, {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"});
}

std::string controlnet_unit_text(const ControlSpec& spec, int64_t width, int64_t height) {
  // The extension's ControlNetUnit.serialize(): its infotext fields, "Key: value" joined by ", ".
  int64_t resolution = spec.resolution;
  if (resolution == 0)
    resolution = spec.preprocessor == "none" ? 512 : imaging::pixel_perfect_resolution(spec.image, width, height, spec.resize_mode);
  std::ostringstream out;
  out << "Module: " << spec.preprocessor << ", Model: " << controlnet_model_name(spec) << ", Weight: " << number(spec.scale)
      << ", Resize Mode: " << imaging::control_resize_mode_name(spec.resize_mode) << ", Processor Res: " << resolution
      << ", Threshold A: " << number(spec.threshold_a) << ", Threshold B: " << number(spec.threshold_b)
      << ", Guidance Start: " << number(spec.start) << ", Guidance End: " << number(spec.end)
      << ", Pixel Perfect: " << (spec.resolution == 0 ? "True" : "False") << ", Control Mode: " << control_mode_name(spec.mode);
  return out.str();
}

namespace {

// AUTOMATIC1111's extra_generation_params of the hires fix, in the order it sets them.
void hires_fields(const HiresSpec& h, size_t prompt, InfotextFields& f) {
  if (!h.scheduler.empty() && h.sampler_name != f.sampler) f.extra.emplace_back("Hires sampler", h.sampler_name);
  const auto differing = [&](const std::optional<PromptArg>& hires, const std::string& first) -> std::optional<std::string> {
    if (!hires || hires->is_none()) return std::nullopt;
    const std::vector<std::string> texts = hires->for_batch(hires->size(), "hires prompt");
    if (texts.empty()) return std::nullopt;
    const std::string& text = texts.at(std::min(prompt, texts.size() - 1));
    return text != first ? std::optional<std::string>(text) : std::nullopt;
  };
  if (auto text = differing(h.prompt, f.prompt)) f.extra.emplace_back("Hires prompt", *text);
  if (auto text = differing(h.negative_prompt, f.negative_prompt)) f.extra.emplace_back("Hires negative prompt", *text);
  if (h.guidance_scale) f.extra.emplace_back("Hires CFG Scale", number(*h.guidance_scale));
  if (h.resize_x == 0 && h.resize_y == 0) f.extra.emplace_back("Hires upscale", number(h.scale));
  else f.extra.emplace_back("Hires resize", std::to_string(h.resize_x) + "x" + std::to_string(h.resize_y));
  if (h.steps > 0) f.extra.emplace_back("Hires steps", std::to_string(h.steps));
  if (!h.upscaler.empty()) f.extra.emplace_back("Hires upscaler", h.upscaler);
}

}  // namespace

InfotextFields infotext_fields(const EngineRequest& request, const EngineOptions& options,
                               const std::vector<lora::LoraSpec>& loras, int64_t width, int64_t height, int64_t index) {
  const GenerateRequest& r = request.generate;
  const PromptRequest& p = r.prompts;
  const size_t prompts = p.prompt.is_list() ? p.prompt.size() : 1;
  const int64_t per_prompt = std::max<int64_t>(1, p.num_images_per_prompt);
  const size_t prompt = std::min(static_cast<size_t>(index / per_prompt), prompts - 1);
  InfotextFields f;
  f.prompt = p.prompt.for_batch(prompts, "prompt")[prompt];
  if (!p.negative_prompt.is_none()) f.negative_prompt = p.negative_prompt.for_batch(prompts, "negative prompt")[prompt];
  if (!p.prompt_2.is_none()) f.prompt_2 = p.prompt_2.for_batch(1, "prompt 2")[0];
  f.steps = r.steps;
  f.sampler = r.sampler_name;
  f.guidance = r.guidance.scale;
  f.guidance_rescale = r.guidance.rescale;
  // Image i of a per-image-seeded call is the single image of seed + i; a shared generator's
  // images have no seed of their own, and name the call's.
  const bool per_image = r.seeding == rng::BatchSeeding::PerImage;
  const bool variation = r.subseed_strength > 0;
  f.seed = per_image && !variation ? r.seed + static_cast<uint64_t>(index) : r.seed;
  f.width = width;
  f.height = height;
  f.model = options.model;
  f.vae = options.vae;
  if (r.init_image.defined()) f.denoising_strength = r.strength;
  if (request.hires) {  // Size is the first pass's, as AUTOMATIC1111 writes it
    f.width = r.width;
    f.height = r.height;
    f.denoising_strength = request.hires->denoising_strength;
  }
  f.inpaint = r.mask.defined();
  if (request.refiner.mode != RefinerMode::None) {
    f.refiner = options.refiner;
    if (request.refiner.mode == RefinerMode::Ensemble) f.refiner_switch_at = request.refiner.high_noise_frac;
    else f.refiner_strength = request.refiner.strength;
  }
  // AUTOMATIC1111 counts the layers it stops at (CLIP_stop_at_last_layers, 1 = SDXL's default
  // penultimate layer): diffusers' clip_skip k is its k + 1, written only when more than 1.
  if (p.clip_skip && *p.clip_skip > 0) f.extra.emplace_back("Clip skip", std::to_string(*p.clip_skip + 1));
  f.precision = options.precision == ops::Precision::BF16 ? "bf16" : "fp32";
  f.loras = loras;
  if (variation) {  // AUTOMATIC1111 numbers the variation seeds per image, the seed stays
    f.extra.emplace_back("Variation seed", std::to_string(per_image ? r.subseed + static_cast<uint64_t>(index) : r.subseed));
    f.extra.emplace_back("Variation seed strength", number(r.subseed_strength));
  }
  if (r.seed_resize_from_width > 0 && r.seed_resize_from_height > 0)
    f.extra.emplace_back("Seed resize from", std::to_string(r.seed_resize_from_width) + "x" + std::to_string(r.seed_resize_from_height));
  // AUTOMATIC1111's img2img extra_generation_params for its inpainting options.
  if (const auto& o = request.inpaint_options) {
    if (o->invert) f.extra.emplace_back("Mask mode", "Inpaint not masked");
    if (o->blur_x > 0 || o->blur_y > 0) f.extra.emplace_back("Mask blur", o->blur_x == o->blur_y ? std::to_string(o->blur_x) : "None");
    if (request.inpaint_frame && request.inpaint_frame->only_masked) {
      f.extra.emplace_back("Inpaint area", "Only masked");
      f.extra.emplace_back("Masked area padding", std::to_string(o->padding));
    }
  }
  if (r.initial_noise_multiplier != 1.0 && r.init_image.defined())
    f.extra.emplace_back("Noise multiplier", number(r.initial_noise_multiplier));
  if (r.scheduler_overrides.contains("ancestral_eta"))
    f.extra.emplace_back("Eta", number(r.scheduler_overrides["ancestral_eta"].get<double>()));
  if (r.scheduler_overrides.contains("eta")) f.extra.emplace_back("Eta DDIM", number(r.scheduler_overrides["eta"].get<double>()));
  for (size_t i = 0; i < request.controlnets.size(); ++i)
    f.extra.emplace_back("ControlNet " + std::to_string(i), controlnet_unit_text(request.controlnets[i], width, height));
  if (request.ip_adapter) {
    const IpAdapterSpec& ip = *request.ip_adapter;
    const std::string model = ip.name.empty() ? model_name_with_hash(ip.model, {}) : ip.name;
    const std::string encoder = model_name_with_hash(ip.image_encoder, {"model.safetensors", "model.fp16.safetensors"});
    f.extra.emplace_back("IP-Adapter", "Model: " + model + ", Image Encoder: " + encoder +
                                           ", Weight: " + number(ip.scale) + ", Guidance Start: " + number(ip.start) +
                                           ", Guidance End: " + number(ip.end));
  }
  if (request.hires) hires_fields(*request.hires, prompt, f);
  return f;
}

std::string infotext_quote(const std::string& text) {
  if (text.find_first_of(",:\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') out += "\\n";
    else out += c;
  }
  return out + "\"";
}

std::string a1111_infotext(const InfotextFields& f) {
  std::ostringstream out;
  out << f.prompt << "\n";
  if (!f.negative_prompt.empty()) out << "Negative prompt: " << f.negative_prompt << "\n";
  out << "Steps: " << f.steps << ", Sampler: " << f.sampler << ", CFG scale: " << number(f.guidance) << ", Seed: " << f.seed
      << ", Size: " << f.width << "x" << f.height;
  write_model(out, f.model, "Model hash", "Model");
  if (!f.vae.empty()) write_model(out, f.vae, "VAE hash", "VAE");
  if (f.denoising_strength) out << ", Denoising strength: " << number(*f.denoising_strength);
  if (f.guidance_rescale > 0) out << ", CFG Rescale: " << number(f.guidance_rescale);
  if (f.inpaint) out << ", Inpaint: true";
  if (!f.refiner.empty()) {
    out << ", Refiner: " << infotext_quote(f.refiner.filename().string());
    if (f.refiner_switch_at) out << ", Refiner switch at: " << number(*f.refiner_switch_at);
    if (f.refiner_strength) out << ", Refiner strength: " << number(*f.refiner_strength);
  }
  if (f.prompt_2) out << ", Prompt 2: " << infotext_quote(*f.prompt_2);
  if (f.precision != "fp32") out << ", Precision: " << f.precision;
  if (!f.loras.empty()) out << ", Lora hashes: " << infotext_quote(lora_hashes(f.loras));
  for (const auto& [key, value] : f.extra) out << ", " << key << ": " << infotext_quote(value);
  out << ", Version: sdxl " << f.version;
  return out.str();
}

}  // namespace sdxl::pipeline

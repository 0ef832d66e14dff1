#include "server/request_parsers.h"

#include <cstdio>

#include "server/request_fields.h"

namespace sdxl::server {

using nlohmann::json;

namespace {

// A mask is the image's size (the engine refuses anything else; said here from the headers).
void check_mask_size(const GenerationSpec& s) {
  if (!s.mask || !s.init_image) return;
  if (s.mask->width != s.init_image->width || s.mask->height != s.init_image->height)
    throw RequestError(422, s.mask->field,
                       s.mask->field + ": the mask is " + std::to_string(s.mask->width) + "x" + std::to_string(s.mask->height) +
                           " but the image is " + std::to_string(s.init_image->width) + "x" + std::to_string(s.init_image->height));
}

std::string sampler_or_default(const Fields& f) {
  std::string name = f.text("sampler_name", "");
  if (name.empty()) name = f.text("sampler_index", "Euler");
  const sdxl_sampler_info* info = nullptr;
  int karras = 0;
  if (sdxl_resolve_sampler(name.c_str(), nullptr, 0, &info, &karras) != SDXL_STATUS_OK)
    throw RequestError(422, "sampler_name", std::string("sampler_name: ") + sdxl_last_error());
  return name;
}

// The fields txt2img and img2img share, mapped onto a generation.
GenerationSpec common_spec(const NameLookup& names, const Fields& f, json& echo) {
  GenerationSpec s;
  s.prompt_syntax = "a1111";
  s.prompts = {f.text("prompt", "")};
  s.negative_prompts = {f.text("negative_prompt", "")};
  s.width = static_cast<int>(f.integer("width", 512, SDXL_MIN_SIDE, SDXL_MAX_SIDE));
  s.height = static_cast<int>(f.integer("height", 512, SDXL_MIN_SIDE, SDXL_MAX_SIDE));
  if (s.width % 8 || s.height % 8) f.bad(s.width % 8 ? "width" : "height", "must be a multiple of 8");
  s.steps = static_cast<int>(f.integer("steps", 50, 1, SDXL_MAX_STEPS));
  s.guidance = f.number("cfg_scale", 7.0, 0.0, 100.0);
  const int64_t seed = f.integer("seed", -1, -1, 4294967295ll);
  s.seed = seed < 0 ? random_seed() : static_cast<uint64_t>(seed);
  s.sampler = sampler_or_default(f);
  const std::string scheduler = f.text("scheduler", "");
  if (!scheduler.empty() && scheduler != "Automatic" && scheduler != "automatic" && scheduler != "Karras" && scheduler != "karras")
    f.bad("scheduler", "'" + scheduler + "' is not one of Automatic, Karras");
  s.scheduler = scheduler;
  s.images_per_prompt = static_cast<int>(f.integer("batch_size", 1, 1, SDXL_MAX_IMAGES));
  s.repeats = static_cast<int>(f.integer("n_iter", 1, 1, 100));
  if (s.repeats * s.images_per_prompt > kMaxImagesPerCall)
    f.bad("n_iter", "n_iter x batch_size is " + std::to_string(s.repeats * s.images_per_prompt) + " images; at most " +
                        std::to_string(kMaxImagesPerCall) + " in one call");
  if (f.boolean("enable_hr", false)) f.bad("enable_hr", "hires fix is not supported by sdxl");
  if (f.boolean("restore_faces", false)) f.bad("restore_faces", "face restoration is not supported by sdxl");
  if (f.boolean("tiling", false)) f.bad("tiling", "tiling is not supported by sdxl");
  const json& overrides = f.raw("override_settings");
  if (!overrides.is_null()) {
    if (!overrides.is_object()) f.bad("override_settings", "must be an object");
    const Fields o(overrides);
    s.checkpoint = o.text("sd_model_checkpoint", "");
    if (!s.checkpoint.empty() && !names.has_checkpoint(s.checkpoint))
      throw RequestError(404, "override_settings.sd_model_checkpoint", "no checkpoint named '" + s.checkpoint + "'");
    s.clip_skip = static_cast<int>(o.integer("CLIP_stop_at_last_layers", 1, 1, 12)) - 1;
    if (s.clip_skip == 0) s.clip_skip = -1;
  }
  const std::string refiner = f.text("refiner_checkpoint", "");
  if (!refiner.empty() && refiner != "None") {
    const std::filesystem::path loaded = names.refiner;
    if (loaded.empty() || (refiner != loaded.filename().string() && refiner != loaded.stem().string()))
      throw RequestError(422, "refiner_checkpoint",
                         "refiner_checkpoint: '" + refiner + "' is not the server's refiner (sdxl serve --refiner)");
    s.refiner_mode = "ensemble";
    s.high_noise_frac = f.number("refiner_switch_at", 0.8, 0.01, 0.99);
  }
  echo = {{"prompt", s.prompts[0]},       {"negative_prompt", s.negative_prompts[0]}, {"seed", s.seed},
          {"sampler_name", s.sampler},    {"scheduler", s.scheduler},                 {"batch_size", s.images_per_prompt},
          {"n_iter", s.repeats},          {"steps", s.steps},                         {"cfg_scale", s.guidance},
          {"width", s.width},             {"height", s.height},                       {"override_settings", overrides},
          {"refiner_checkpoint", refiner}, {"refiner_switch_at", s.high_noise_frac}};
  return s;
}

}  // namespace

GenerationSpec parse_a1111_request(const json& body, bool img2img, const NameLookup& names, json& echo) {
  const Fields f(body);
  GenerationSpec s = common_spec(names, f, echo);
  if (img2img) {
    const json& init = f.raw("init_images");
    if (!init.is_array() || init.empty() || !init[0].is_string())
      f.bad("init_images", "must be a list with at least one base64 image");
    s.init_image = upload_of(init[0].get<std::string>(), "init_images", max_upload_pixels(s));
    if (f.has("mask")) s.mask = upload_of(f.text("mask", ""), "mask", max_upload_pixels(s));
    check_mask_size(s);
    s.strength = f.number("denoising_strength", 0.75, 0.01, 1.0);
    echo["denoising_strength"] = s.strength;
  }
  return s;
}

GenerationSpec parse_job_request(const json& body, const NameLookup& names) {
  const Fields f(body);
  GenerationSpec s;
  s.prompts = f.texts("prompt");
  if (s.prompts.empty()) f.bad("prompt", "is required");
  if (s.prompts.size() > static_cast<size_t>(SDXL_MAX_IMAGES)) f.bad("prompt", "too many prompts");
  s.negative_prompts = f.texts("negative_prompt");
  s.prompt_2 = f.optional_text("prompt_2");
  s.width = static_cast<int>(f.integer("width", 1024, SDXL_MIN_SIDE, SDXL_MAX_SIDE));
  s.height = static_cast<int>(f.integer("height", 1024, SDXL_MIN_SIDE, SDXL_MAX_SIDE));
  if (s.width % 8 || s.height % 8) f.bad(s.width % 8 ? "width" : "height", "must be a multiple of 8");
  s.steps = static_cast<int>(f.integer("num_inference_steps", 30, 1, SDXL_MAX_STEPS));
  s.guidance = f.number("guidance_scale", 5.0, 0.0, 100.0);
  const int64_t seed = f.integer("seed", -1, -1, (int64_t{1} << 53));
  s.seed = seed < 0 ? random_seed() : static_cast<uint64_t>(seed);
  s.sampler = f.text("sampler", "euler");
  s.scheduler = f.text("scheduler", "");
  s.images_per_prompt = static_cast<int>(f.integer("num_images_per_prompt", 1, 1, SDXL_MAX_IMAGES));
  if (s.prompts.size() * static_cast<size_t>(s.images_per_prompt) > static_cast<size_t>(SDXL_MAX_IMAGES))
    f.bad("num_images_per_prompt", std::to_string(s.prompts.size()) + " prompts x " + std::to_string(s.images_per_prompt) +
                                       " images is more than " + std::to_string(SDXL_MAX_IMAGES) + " images in one call");
  s.prompt_syntax = f.text("prompt_syntax", "plain");
  if (s.prompt_syntax != "plain" && s.prompt_syntax != "a1111") f.bad("prompt_syntax", "must be plain or a1111");
  s.clip_skip = static_cast<int>(f.integer("clip_skip", -1, -1, 12));
  if (f.has("image")) {
    s.init_image = upload_of(f.text("image", ""), "image", max_upload_pixels(s));
    s.strength = f.number("strength", 0.3, 0.01, 1.0);
  }
  if (f.has("mask_image")) {
    if (!s.init_image) f.bad("mask_image", "needs image");
    s.mask = upload_of(f.text("mask_image", ""), "mask_image", max_upload_pixels(s));
    check_mask_size(s);
  }
  s.refiner_mode = f.text("refiner_mode", names.refiner.empty() ? "none" : "ensemble");
  s.high_noise_frac = f.number("high_noise_frac", 0.8, 0.01, 0.99);
  s.checkpoint = f.text("model", "");
  if (!s.checkpoint.empty() && !names.has_checkpoint(s.checkpoint))
    throw RequestError(404, "model", "model: no checkpoint named '" + s.checkpoint + "'");
  const json& loras = f.raw("loras");
  if (!loras.is_null()) {
    if (!loras.is_array()) f.bad("loras", "must be a list of {name, weight}");
    for (const auto& l : loras) {
      if (!l.is_object() || !l.contains("name") || !l["name"].is_string()) f.bad("loras", "each entry needs a name");
      const Fields lf(l);
      const std::string name = lf.text("name", "");
      const auto entry = names.lora(name);
      if (!entry) throw RequestError(404, "loras", "loras: no LoRA named '" + name + "' in the LoRA folder");
      s.loras.emplace_back(*entry, lf.number("weight", 1.0, -10.0, 10.0));
    }
  }
  return s;
}

GenerationSpec parse_openai_request(const json& body, const NameLookup& names, std::string& format) {
  const Fields f(body);
  GenerationSpec s;
  s.prompts = {f.text("prompt", "")};
  if (s.prompts[0].empty()) f.bad("prompt", "is required", 400);
  s.images_per_prompt = static_cast<int>(f.integer("n", 1, 1, 10));
  const std::string size = f.text("size", "1024x1024");
  if (size != "auto") {
    int w = 0, h = 0;
    char x = 0, extra = 0;
    if (std::sscanf(size.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || x != 'x' || w < SDXL_MIN_SIDE || h < SDXL_MIN_SIDE ||
        w > SDXL_MAX_SIDE || h > SDXL_MAX_SIDE || w % 8 || h % 8)
      f.bad("size", "'" + size + "' is not WIDTHxHEIGHT with sides multiples of 8 between " + std::to_string(SDXL_MIN_SIDE) +
                        " and " + std::to_string(SDXL_MAX_SIDE), 400);
    s.width = w;
    s.height = h;
  }
  format = f.text("response_format", "b64_json");
  if (format != "b64_json" && format != "url") f.bad("response_format", "must be b64_json or url", 400);
  const std::string model = f.text("model", "");
  if (!model.empty() && model != "sdxl" && !names.has_checkpoint(model))
    throw RequestError(404, "model", "model: no model named '" + model + "' (GET /v1/models lists them)");
  if (model != "sdxl") s.checkpoint = model;
  s.seed = random_seed();
  return s;
}

}  // namespace sdxl::server

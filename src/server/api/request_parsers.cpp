#include "server/api/request_parsers.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "server/api/a1111_controlnet.h"
#include "server/api/a1111_fields.h"
#include "server/jobs/generation_json.h"
#include "server/http/request_fields.h"

namespace sdxl::server {

using nlohmann::json;

namespace {

// The fields txt2img and img2img share, mapped onto a generation.
JobRequest common_request(const NameLookup& names, const Fields& f, json& echo) {
  JobRequest job;
  api::Generation& g = job.generation;
  g.prompt_syntax = "a1111";
  g.prompts = {f.text("prompt", "")};
  g.negative_prompts = {f.text("negative_prompt", "")};
  g.width = f.int32("width", 512);
  g.height = f.int32("height", 512);
  g.steps = f.int32("steps", 50);
  g.guidance_scale = f.finite("cfg_scale", 7.0);
  const int64_t seed = f.integer("seed", -1, -1, 4294967295ll);
  g.seed = seed < 0 ? random_seed() : static_cast<uint64_t>(seed);
  g.sampler = f.text("sampler_name", "");
  if (g.sampler.empty()) g.sampler = f.text("sampler_index", "Euler");
  g.scheduler = f.text("scheduler", "");
  g.images_per_prompt = f.int32("batch_size", 1);
  g.preview_every = 1;
  job.repeats = static_cast<int>(f.integer("n_iter", 1, 1, kMaxImagesPerCall));
  if (int64_t{job.repeats} * g.images_per_prompt > kMaxImagesPerCall)
    f.bad("n_iter", "n_iter x batch_size is " + std::to_string(int64_t{job.repeats} * g.images_per_prompt) +
                        " images; at most " + std::to_string(kMaxImagesPerCall) + " in one call");
  if (f.boolean("restore_faces", false)) f.bad("restore_faces", "face restoration is not supported by sdxl");
  if (f.boolean("tiling", false)) f.bad("tiling", "tiling is not supported by sdxl");
  const json& overrides = f.raw("override_settings");
  if (!overrides.is_null()) {
    if (!overrides.is_object()) f.bad("override_settings", "must be an object");
    check_a1111_options(overrides, "override_settings.", names.vae, /*per_request=*/true);
    const Fields o(overrides);
    job.checkpoint = o.text("sd_model_checkpoint", "");
    if (!job.checkpoint.empty() && !names.has_checkpoint(job.checkpoint))
      throw RequestError(404, "override_settings.sd_model_checkpoint", "no checkpoint named '" + job.checkpoint + "'");
    job.checkpoint_becomes_default = !job.checkpoint.empty() && !f.boolean("override_settings_restore_afterwards", true);
    // samples_format / jpeg_quality / webp_lossless: how its API encodes the images it returns.
    job.output = image_output_of(o, "samples_format", "jpeg_quality", "webp_lossless");
    // AUTOMATIC1111's own setting (its slider's range), counted from 1 where clip_skip counts from 0.
    g.clip_skip = static_cast<int>(o.integer("CLIP_stop_at_last_layers", 1, 1, 12)) - 1;
    if (g.clip_skip == 0) g.clip_skip = -1;
  }
  const std::string refiner = f.text("refiner_checkpoint", "");
  g.refiner_mode = "none";
  if (!refiner.empty() && refiner != "None") {
    const std::filesystem::path loaded = names.refiner;
    if (loaded.empty() || (refiner != loaded.filename().string() && refiner != loaded.stem().string()))
      throw RequestError(422, "refiner_checkpoint",
                         "refiner_checkpoint: '" + refiner + "' is not the server's refiner (sdxl serve --refiner)");
    g.refiner_mode = "ensemble";
    g.high_noise_frac = f.finite("refiner_switch_at", 0.8);
  }
  echo = {{"prompt", g.prompts[0]},        {"negative_prompt", g.negative_prompts[0]}, {"seed", g.seed},
          {"sampler_name", g.sampler},     {"scheduler", g.scheduler},                 {"batch_size", g.images_per_prompt},
          {"n_iter", job.repeats},         {"steps", g.steps},                         {"cfg_scale", g.guidance_scale},
          {"width", g.width},              {"height", g.height},                       {"override_settings", overrides},
          {"refiner_checkpoint", refiner}, {"refiner_switch_at", g.high_noise_frac}, {"styles", f.texts("styles")}};
  return job;
}

bool is_builtin_hires_upscaler(const std::string& name) {
  static const std::set<std::string> names = {"Latent",           "Latent (antialiased)",   "Latent (bicubic)",
                                              "Latent (bicubic antialiased)", "Latent (nearest)", "Latent (nearest-exact)",
                                              "Lanczos",          "Nearest",                "None"};
  return names.count(name) > 0;
}

// txt2img's hires fix fields (enable_hr and hr_*) with AUTOMATIC1111's defaults: hr_scale 2,
// denoising_strength 0.75, hr_upscaler none (its default latent mode, "Latent"; the PNG text then
// names none), the old firstphase_width/height (the first pass's size; width x height the target).
api::Hires a1111_hires(const Fields& f, api::Generation& g, const NameLookup& names, json& echo) {
  api::Hires h;
  h.scale = f.finite("hr_scale", 2.0);
  h.resize_width = static_cast<int>(f.integer("hr_resize_x", 0, 0, 65536));
  h.resize_height = static_cast<int>(f.integer("hr_resize_y", 0, 0, 65536));
  const int first_w = static_cast<int>(f.integer("firstphase_width", 0, 0, 65536));
  const int first_h = static_cast<int>(f.integer("firstphase_height", 0, 0, 65536));
  if (first_w != 0 || first_h != 0) {
    h.resize_width = g.width;
    h.resize_height = g.height;
    g.width = first_w != 0 ? first_w : g.width;
    g.height = first_h != 0 ? first_h : g.height;
  }
  const std::string upscaler = f.text("hr_upscaler", "");
  h.upscaler = upscaler;
  if (!upscaler.empty() && upscaler != "None" && !is_builtin_hires_upscaler(upscaler)) {
    const auto file = names.upscaler ? names.upscaler(upscaler) : std::nullopt;
    if (!file) f.bad("hr_upscaler", "no upscaler named '" + upscaler + "' (latent modes, Lanczos, Nearest, or a model in sdxl serve --upscaler-dir)");
    h.upscaler_model = *file;
  }
  h.steps = static_cast<int>(f.integer("hr_second_pass_steps", 0, 0, 1000));
  h.denoising_strength = f.finite("denoising_strength", 0.75);
  const std::string sampler = f.text("hr_sampler_name", "");
  if (!sampler.empty() && sampler != "Use same sampler") {
    h.sampler = sampler;
    const std::string scheduler = f.text("hr_scheduler", "");
    h.scheduler = scheduler == "Use same scheduler" ? g.scheduler : scheduler;
  }
  const std::string checkpoint = f.text("hr_checkpoint_name", "");
  if (!checkpoint.empty() && checkpoint != "Use same checkpoint")
    f.bad("hr_checkpoint_name", "a second checkpoint for the hires pass is not supported");
  if (f.has("firstpass_image") && !f.raw("firstpass_image").is_null()) f.bad("firstpass_image", "is not supported");
  const std::string hr_prompt = f.text("hr_prompt", ""), hr_negative = f.text("hr_negative_prompt", "");
  if (!hr_prompt.empty()) h.prompt = hr_prompt;  // A1111: an empty one is the first pass's
  if (!hr_negative.empty()) h.negative_prompt = hr_negative;
  if (f.has("hr_cfg")) h.guidance_scale = f.finite("hr_cfg", g.guidance_scale);
  echo["enable_hr"] = true;
  echo["hr_scale"] = h.scale;
  echo["hr_upscaler"] = upscaler.empty() ? json(nullptr) : json(upscaler);
  echo["hr_second_pass_steps"] = h.steps;
  echo["hr_resize_x"] = h.resize_width;
  echo["hr_resize_y"] = h.resize_height;
  echo["denoising_strength"] = h.denoising_strength;
  echo["width"] = g.width;
  echo["height"] = g.height;
  return h;
}

}  // namespace

JobRequest parse_a1111_request(const json& body, bool img2img, const NameLookup& names, json& echo,
                               std::vector<std::string>& ignored) {
  const Fields f(body);
  JobRequest job = common_request(names, f, echo);
  api::Generation& g = job.generation;
  ignored = apply_a1111_fields(body, img2img, names.styles, g);
  if (!img2img && f.boolean("enable_hr", false)) g.hires = a1111_hires(f, g, names, echo);
  if (img2img) {
    const json& init = f.raw("init_images");
    if (!init.is_array() || init.empty() || !init[0].is_string())
      f.bad("init_images", "must be a list with at least one base64 image");
    g.image = upload_of(init[0].get<std::string>(), "init_images", api::max_input_pixels(g));
    if (f.has("mask")) g.mask_image = upload_of(f.text("mask", ""), "mask", api::max_input_pixels(g));
    g.strength = f.finite("denoising_strength", 0.75);
    echo["denoising_strength"] = g.strength;
    // AUTOMATIC1111 echoes the uploads only when asked to (include_init_images).
    if (f.boolean("include_init_images", false)) {
      echo["init_images"] = init;
      echo["mask"] = f.raw("mask");
    }
  }
  apply_a1111_controlnet(body, img2img, names, g);  // after the init image: units may take it
  return job;
}

JobRequest parse_job_request(const json& body, const NameLookup& names) {
  const Fields f(body);
  if (!f.has("prompt")) f.bad("prompt", "is required");
  api::Generation defaults;
  defaults.refiner_mode = names.refiner.empty() ? "none" : "ensemble";
  defaults.preview_every = 1;
  const FileNaming catalog{[&names](const std::string& name, const char* field) {
                             const auto file = names.lora(name);
                             if (!file)
                               throw RequestError(404, field, std::string(field) + ": no LoRA named '" + name + "' in the LoRA folder");
                             return *file;
                           },
                           [](const std::string& path) { return path; },
                           [&names](const std::string& name, const std::string& field) {
                             const auto file = names.controlnet ? names.controlnet(name) : std::nullopt;
                             if (!file)
                               throw RequestError(422, field, field + ": no ControlNet named '" + name +
                                                                  "' in the server's --controlnet-dir");
                             return *file;
                           },
                           [](const std::string& path) { return path; },
                           [&names](const std::string& name, const std::string& field) {
                             const auto file = names.image_encoder ? names.image_encoder(name) : std::nullopt;
                             if (!file)
                               throw RequestError(422, field, field + ": no image encoder named '" + name +
                                                                  "' in the server's --image-encoder-dir");
                             return *file;
                           },
                           [](const std::string& path) { return path; },
                           [&names](const std::string& name, const std::string& field) {
                             const auto file = names.upscaler ? names.upscaler(name) : std::nullopt;
                             if (!file)
                               throw RequestError(422, field, field + ": no upscaler named '" + name +
                                                                  "' in the server's --upscaler-dir");
                             return *file;
                           },
                           [](const std::string& path) { return std::filesystem::path(path).stem().string(); }};
  JobRequest job;
  job.generation = generation_from_json(body, catalog, std::move(defaults),
                                        {"model", "n_iter", "output_format", "output_quality", "output_lossless"});
  job.output = image_output_of(f, "output_format", "output_quality", "output_lossless");
  job.checkpoint = f.text("model", "");
  if (!job.checkpoint.empty() && !names.has_checkpoint(job.checkpoint))
    throw RequestError(404, "model", "model: no checkpoint named '" + job.checkpoint + "'");
  job.repeats = static_cast<int>(f.integer("n_iter", 1, 1, kMaxImagesPerCall));
  // One call's images are the library's to bound; their repeats are the server's.
  const int64_t images = int64_t{job.generation.images_per_prompt} * static_cast<int64_t>(job.generation.prompts.size());
  if (job.repeats > 1 && int64_t{job.repeats} * images > kMaxImagesPerCall)
    f.bad("n_iter", "n_iter x the images of one call is " + std::to_string(job.repeats * images) + "; at most " +
                        std::to_string(kMaxImagesPerCall) + " in one job");
  return job;
}

JobRequest parse_openai_request(const json& body, const NameLookup& names, OpenAiAnswer& answer, bool edit) {
  const Fields f(body);
  // The Images API's fields (generations, edits); it refuses any other, as OpenAI does.
  static const std::set<std::string> known = {"prompt", "model", "n", "size", "response_format", "quality", "style", "user",
                                              "background", "moderation", "output_format", "output_compression", "stream",
                                              "partial_images"};
  static const std::set<std::string> edit_only = {"image", "image[]", "mask", "input_fidelity"};
  for (const auto& [key, value] : body.items())
    if (!known.count(key) && !(edit && edit_only.count(key)))
      throw RequestError(400, key, "Unrecognized request argument supplied: " + key);
  answer.stream = f.boolean("stream", false);
  answer.partial_images = static_cast<int>(f.integer("partial_images", 0, 0, 3));
  if (f.text("background", "auto") == "transparent") f.bad("background", "a transparent background is not supported by sdxl", 400);
  JobRequest job;
  api::Generation& g = job.generation;
  g.prompts = {f.text("prompt", "")};
  if (g.prompts[0].empty()) f.bad("prompt", "is required", 400);
  g.images_per_prompt = static_cast<int>(f.integer("n", 1, 1, 10));  // the OpenAI API's own limit
  // An edit keeps its image's size unless told otherwise.
  const std::string size = f.text("size", edit ? "auto" : "1024x1024");
  answer.size = size;
  if (size != "auto") {
    int w = 0, h = 0;
    char x = 0, extra = 0;
    if (std::sscanf(size.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || x != 'x')
      f.bad("size", "'" + size + "' is not WIDTHxHEIGHT", 400);
    g.width = w;
    g.height = h;
  }
  // output_compression (0-100, default 100) is the quality of a JPEG or WebP; a PNG has none.
  job.output = image_output_of(f, "output_format", "", "", 400);
  if (f.has("output_compression")) {
    if (job.output.format == "png") f.bad("output_compression", "output_compression is only for jpeg and webp output", 400);
    job.output.quality = std::max<int>(1, static_cast<int>(f.integer("output_compression", 100, 0, 100)));
  } else if (job.output.format != "png") {
    job.output.quality = 100;
  }
  answer.format = f.text("response_format", "b64_json");
  if (answer.format != "b64_json" && answer.format != "url") f.bad("response_format", "must be b64_json or url", 400);
  if (answer.stream && answer.format == "url")
    f.bad("response_format", "a stream carries the images themselves (b64_json), not links", 400);
  const std::string model = f.text("model", "");
  if (!model.empty() && model != "sdxl" && !names.has_checkpoint(model))
    throw RequestError(404, "model", "model: no model named '" + model + "' (GET /v1/models lists them)");
  if (model != "sdxl") job.checkpoint = model;
  g.seed = random_seed();
  g.refiner_mode = "none";
  g.preview_every = 1;
  return job;
}

namespace {

std::string field_in(const std::map<std::string, std::string>& names, const std::string& parameter) {
  const auto it = names.find(parameter);
  return it == names.end() ? parameter : it->second;
}

}  // namespace

std::string a1111_field_of(const std::string& parameter) {
  static const std::map<std::string, std::string> names = {
      {"prompts", "prompt"},          {"negative_prompts", "negative_prompt"},
      {"guidance_scale", "cfg_scale"}, {"sampler", "sampler_name"},
      {"images_per_prompt", "batch_size"}, {"init_image", "init_images"},
      {"strength", "denoising_strength"}, {"high_noise_frac", "refiner_switch_at"},
      {"refiner_mode", "refiner_checkpoint"}, {"clip_skip", "override_settings.CLIP_stop_at_last_layers"},
      {"seed_resize_from_width", "seed_resize_from_w"}, {"seed_resize_from_height", "seed_resize_from_h"}};
  if (parameter.rfind("ip_adapter", 0) == 0) {
    static const std::map<std::string, std::string> ip_names = {
        {"ip_adapter", ""}, {"ip_adapter.model", ".model"}, {"ip_adapter.image_encoder", ".module"},
        {"ip_adapter.image", ".image"}, {"ip_adapter.scale", ".weight"}, {"ip_adapter.end", ".guidance_end"}};
    const auto it = ip_names.find(parameter);
    return "alwayson_scripts.controlnet.args (the IP-Adapter unit)" + (it == ip_names.end() ? "" : it->second);
  }
  if (parameter.rfind("controlnets[", 0) == 0) {
    // The library counts the enabled units; the extension's field names.
    static const std::map<std::string, std::string> unit_names = {
        {"scale", "weight"}, {"start", "guidance_start"}, {"end", "guidance_end"}, {"preprocessor", "module"}};
    const size_t close = parameter.find(']');
    const std::string index = parameter.substr(12, close == std::string::npos ? 0 : close - 12);
    const std::string member = close != std::string::npos && close + 2 <= parameter.size() ? parameter.substr(close + 2) : "";
    const auto it = unit_names.find(member);
    return "alwayson_scripts.controlnet.args (enabled unit " + index + ")" +
           (member.empty() ? "" : "." + (it == unit_names.end() ? member : it->second));
  }
  return field_in(names, parameter);
}

std::string jobs_field_of(const std::string& parameter) { return generation_json_field(parameter); }

std::string openai_field_of(const std::string& parameter) {
  static const std::map<std::string, std::string> names = {
      {"prompts", "prompt"}, {"images_per_prompt", "n"}, {"width", "size"}, {"height", "size"}, {"init_image", "image"}};
  return field_in(names, parameter);
}

}  // namespace sdxl::server

#include "server/api/a1111_fields.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "server/api/a1111_controlnet.h"
#include "server/jobs/job_request.h"

namespace sdxl::server {

using nlohmann::json;

namespace {

// StableDiffusionProcessing's init parameters as AUTOMATIC1111's API exposes them (1.10), with
// the API's own additions; img2img adds its own below.
const std::set<std::string>& common_schema() {
  static const std::set<std::string> names = {
      "prompt", "negative_prompt", "styles", "seed", "subseed", "subseed_strength", "seed_resize_from_h",
      "seed_resize_from_w", "sampler_name", "sampler_index", "scheduler", "batch_size", "n_iter", "steps", "cfg_scale",
      "width", "height", "restore_faces", "tiling", "do_not_save_samples", "do_not_save_grid", "eta",
      "denoising_strength", "s_min_uncond", "s_churn", "s_tmax", "s_tmin", "s_noise", "override_settings",
      "override_settings_restore_afterwards", "refiner_checkpoint", "refiner_switch_at", "disable_extra_networks",
      "comments", "script_name", "script_args", "send_images", "save_images", "alwayson_scripts", "force_task_id",
      "infotext"};
  return names;
}

const std::set<std::string>& txt2img_schema() {
  static const std::set<std::string> names = {
      "enable_hr", "firstphase_width", "firstphase_height", "hr_scale", "hr_upscaler", "hr_second_pass_steps",
      "hr_resize_x", "hr_resize_y", "hr_checkpoint_name", "hr_sampler_name", "hr_scheduler", "hr_prompt",
      "hr_negative_prompt", "hr_cfg", "firstpass_image"};
  return names;
}

const std::set<std::string>& img2img_schema() {
  static const std::set<std::string> names = {
      "init_images", "resize_mode", "image_cfg_scale", "mask", "mask_blur_x", "mask_blur_y", "mask_blur", "mask_round",
      "inpainting_fill", "inpaint_full_res", "inpaint_full_res_padding", "inpainting_mask_invert",
      "initial_noise_multiplier", "latent_mask", "include_init_images"};
  return names;
}

// pydantic's reading of a bool field: true/false or 0/1.
bool truthy(const Fields& f, const char* name, bool fallback) {
  if (!f.has(name)) return fallback;
  const json& v = f.raw(name);
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) return v.get<int64_t>() == 1;
  f.bad(name, "must be true or false");
}

[[noreturn]] void not_supported(const Fields& f, const char* name, const std::string& what) {
  f.bad(name, std::string(name) + ": " + what + " is not supported by sdxl");
}

// The k-diffusion sampler families AUTOMATIC1111 passes eta, s_noise and s_churn to.
struct SamplerKind {
  bool known = false, ddim = false, euler_ancestral = false, other_ancestral = false, churn = false;
  std::string name;
};

SamplerKind kind_of(const api::Generation& g) {
  SamplerKind k;
  const sdxl_sampler_info* info = nullptr;
  int karras = 0;
  if (sdxl_resolve_sampler(g.sampler.c_str(), g.scheduler.c_str(), 0, &info, &karras) != SDXL_STATUS_OK || !info)
    return k;  // the library refuses the name, naming sampler_name
  const std::string n = info->name;
  k.known = true;
  k.name = info->display_name;
  k.ddim = n == "ddim";
  k.euler_ancestral = n == "euler_a";
  // The stochastic samplers that run with diffusers' fixed noise level (eta 1).
  k.other_ancestral = n == "kdpm2_a" || n == "dpmpp_2m_sde" || n == "dpmpp_3m_sde" || n == "ddpm";
  k.churn = n == "euler" || n == "heun" || n == "kdpm2";
  return k;
}

// eta as AUTOMATIC1111 hands it on: DDIM's eta (default: eta_ddim, 0), an ancestral sampler's
// (default: eta_ancestral, 1); other samplers take none, and it cannot matter there.
void apply_eta(const Fields& f, const SamplerKind& k, std::optional<double> eta, std::optional<double> eta_ddim,
               std::optional<double> eta_ancestral, api::Generation& g) {
  if (k.ddim) g.eta = eta.value_or(eta_ddim.value_or(0.0));
  const double ancestral = eta.value_or(eta_ancestral.value_or(1.0));
  if (k.euler_ancestral) g.ancestral_eta = ancestral;
  if (k.other_ancestral && ancestral != 1.0)
    f.bad(eta ? "eta" : "override_settings.eta_ancestral",
          "eta: " + k.name + " runs as diffusers has it (eta 1); an eta other than 1 is supported with Euler a and DDIM");
}

std::optional<double> optional_number(const Fields& f, const char* name, double min, double max) {
  if (!f.has(name)) return std::nullopt;
  return f.number(name, 0.0, min, max);
}

}  // namespace

std::vector<std::string> apply_a1111_fields(const json& body, bool img2img, const PromptStyles* styles, api::Generation& g) {
  const Fields f(body);
  const SamplerKind k = kind_of(g);

  // Styles (styles.csv) merged into both prompts, in order; a name it does not have is refused
  // (AUTOMATIC1111 would drop it without a word).
  std::vector<const PromptStyle*> chosen;
  for (const auto& name : f.texts("styles")) {
    const PromptStyle* s = styles ? styles->find(name) : nullptr;
    if (!s) f.bad("styles", "styles: no style named '" + name + "' (GET /sdapi/v1/prompt-styles lists them)");
    chosen.push_back(s);
  }
  if (!chosen.empty()) {
    g.prompts[0] = styles->apply(g.prompts[0], chosen, false);
    if (g.negative_prompts.empty()) g.negative_prompts = {""};
    g.negative_prompts[0] = styles->apply(g.negative_prompts[0], chosen, true);
  }
  g.subseed_strength = f.number("subseed_strength", 0.0, 0.0, 1.0);
  const int64_t subseed = f.integer("subseed", -1, -1, 4294967295ll);
  g.subseed = subseed < 0 ? random_seed() : static_cast<uint64_t>(subseed);
  // AUTOMATIC1111 resizes the seed only when both are positive; its UI sends 0 (or -1) for none.
  const int64_t from_h = f.integer("seed_resize_from_h", -1, -1, 1 << 20), from_w = f.integer("seed_resize_from_w", -1, -1, 1 << 20);
  if (from_h > 0 && from_w > 0) g.seed_resize_from = {static_cast<int>(from_w), static_cast<int>(from_h)};
  if (f.number("s_min_uncond", 0.0, -1e9, 1e9) != 0) not_supported(f, "s_min_uncond", "skipping the negative prompt late");
  const double churn = f.number("s_churn", 0.0, 0.0, 1e9), s_noise = f.number("s_noise", 1.0, 0.0, 1e9);
  (void)f.number("s_tmin", 0.0, -1e9, 1e9);  // both only bound where s_churn > 0
  (void)f.number("s_tmax", 0.0, -1e9, 1e9);
  if (k.churn && churn > 0) not_supported(f, "s_churn", "churn (" + k.name + "'s s_churn > 0)");
  if ((k.euler_ancestral || k.other_ancestral) && s_noise != 1.0) not_supported(f, "s_noise", k.name + "'s s_noise other than 1");

  std::optional<double> eta_ddim, eta_ancestral;
  if (f.has("override_settings")) {
    const Fields o(body.at("override_settings"));
    eta_ddim = optional_number(o, "eta_ddim", 0.0, 1e9);
    eta_ancestral = optional_number(o, "eta_ancestral", 0.0, 1e9);
  }
  apply_eta(f, k, optional_number(f, "eta", 0.0, 1e9), eta_ddim, eta_ancestral, g);

  if (truthy(f, "disable_extra_networks", false)) not_supported(f, "disable_extra_networks", "ignoring <lora:...> tags");
  if (!f.text("script_name", "").empty()) not_supported(f, "script_name", "a script");
  const json& always_on = f.raw("alwayson_scripts");
  if (!always_on.is_null() && !always_on.is_object()) f.bad("alwayson_scripts", "must be an object");
  if (always_on.is_object())
    for (auto it = always_on.begin(); it != always_on.end(); ++it)
      if (!is_controlnet_script(it.key()))  // ControlNet's units: a1111_controlnet.h
        f.bad("alwayson_scripts", "alwayson_scripts: '" + it.key() + "' is not supported by sdxl");
  if (!f.text("infotext", "").empty()) not_supported(f, "infotext", "a request from an infotext");

  if (img2img) {
    if (f.integer("resize_mode", 0, 0, 3) != 0) not_supported(f, "resize_mode", "a resize mode other than 0 (just resize)");
    if (f.has("latent_mask")) not_supported(f, "latent_mask", "a separate latent mask");
    g.initial_noise_multiplier = f.number("initial_noise_multiplier", 1.0, 0.0, 10.0);
    if (f.has("mask")) {
      // AUTOMATIC1111's inpainting with its API's defaults: a 4-pixel blur (mask_blur sets both
      // axes), "fill", only the masked area with no padding, the original put back over the result.
      g.mask_blur_x = static_cast<int>(f.integer("mask_blur_x", 4, 0, 64));
      g.mask_blur_y = static_cast<int>(f.integer("mask_blur_y", 4, 0, 64));
      if (f.has("mask_blur")) g.mask_blur_x = g.mask_blur_y = static_cast<int>(f.integer("mask_blur", 4, 0, 64));  // its setter wins
      static const char* const fills[] = {"fill", "original", "latent_noise", "latent_nothing"};
      g.inpaint_fill = fills[f.integer("inpainting_fill", 0, 0, 3)];
      g.inpaint_only_masked = truthy(f, "inpaint_full_res", true);
      g.inpaint_padding = static_cast<int>(f.integer("inpaint_full_res_padding", 0, 0, 8192));
      g.mask_invert = f.integer("inpainting_mask_invert", 0, 0, 1) == 1;
      g.inpaint_overlay = true;
      if (!truthy(f, "mask_round", true)) not_supported(f, "mask_round", "an unrounded mask (mask_round: false)");
    }
  }

  std::vector<std::string> ignored;
  for (const auto& [key, value] : body.items())
    if (!common_schema().count(key) && !(img2img ? img2img_schema() : txt2img_schema()).count(key)) ignored.push_back(key);
  return ignored;
}

void check_a1111_options(const json& settings, const std::string& prefix, const std::string& vae, bool per_request) {
  for (const auto& [key, value] : settings.items()) {
    const std::string field = prefix + key;
    auto refuse = [&](const std::string& why) { throw RequestError(422, field, field + ": " + why); };
    const bool number = value.is_number() && std::isfinite(value.get<double>());
    if (key == "sd_model_checkpoint") {
      continue;  // a request's own, or a switch of the default
    } else if (key == "CLIP_stop_at_last_layers" || key == "eta_ddim" || key == "eta_ancestral") {
      // Read per request; as the server's defaults only their defaults are kept.
      const double fallback = key == "CLIP_stop_at_last_layers" ? 1.0 : key == "eta_ddim" ? 0.0 : 1.0;
      if (!per_request && !(number && value.get<double>() == fallback))
        refuse("only per request (override_settings) is this supported by sdxl; the server's default stays " +
               json(fallback).dump());
    } else if (key == "sd_vae") {
      const std::string name = value.is_string() ? value.get<std::string>() : "";
      if (name != "Automatic" && !(vae.empty() ? name == "None" : name == vae))
        refuse("'" + name + "' is not the server's VAE (" + (vae.empty() ? std::string("its checkpoints' own: Automatic or None") : vae) + ")");
    } else if (key == "samples_format" || key == "jpeg_quality" || key == "webp_lossless") {
      // Read per request (how the images of that request are encoded); the server's default stays.
      const json fallback = key == "samples_format" ? json("png") : key == "jpeg_quality" ? json(80) : json(false);
      if (!per_request && value != fallback)
        refuse("only per request (override_settings) is this supported by sdxl; the server's default stays " + fallback.dump());
      std::string format = value.is_string() ? value.get<std::string>() : "";
      std::transform(format.begin(), format.end(), format.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (key == "samples_format" && format != "png" && format != "jpg" && format != "jpeg" && format != "webp")
        refuse("must be png, jpg, jpeg or webp");
      if (key == "jpeg_quality" && !(value.is_number_integer() && value.get<int64_t>() >= 1 && value.get<int64_t>() <= 100))
        refuse("must be an integer from 1 to 100");
      if (key == "webp_lossless" && !value.is_boolean()) refuse("must be true or false");
    } else if (key == "eta_noise_seed_delta") {
      if (!value.is_number_integer() || value.get<int64_t>() != 0) refuse("a seed delta other than 0 is not supported by sdxl");
    } else {
      refuse("this setting is not supported by sdxl");
    }
  }
}

}  // namespace sdxl::server

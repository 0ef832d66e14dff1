#include "pipeline/request/engine_capacity.h"

#include <algorithm>

#include "core/error.h"

namespace sdxl::pipeline {

using nlohmann::json;

namespace {

json footprint_json(const ModelFootprint& f) {
  return {{"text_encoders_gib", f.text_encoders_gib}, {"unet_gib", f.unet_gib}, {"vae_gib", f.vae_gib},
          {"unet_channels", f.unet_channels},         {"vae_channels", f.vae_channels}, {"loaded", f.loaded}};
}

ModelFootprint footprint_of(const json& j) {
  ModelFootprint f;
  f.text_encoders_gib = j.at("text_encoders_gib").get<double>();
  f.unet_gib = j.at("unet_gib").get<double>();
  f.vae_gib = j.at("vae_gib").get<double>();
  f.unet_channels = j.at("unet_channels").get<int64_t>();
  f.vae_channels = j.at("vae_channels").get<int64_t>();
  f.loaded = j.at("loaded").get<bool>();
  return f;
}

}  // namespace

json to_json(const EngineCapacity& c) {
  return {{"model", c.model},
          {"vae_scale", c.vae_scale},
          {"has_refiner", c.has_refiner},
          {"is_refiner", c.is_refiner},
          {"one_shot", c.one_shot},
          {"base", footprint_json(c.base)},
          {"refiner", footprint_json(c.refiner)},
          {"available_gib", c.available_gib}};
}

EngineCapacity capacity_from_json(const json& j) {
  try {
    EngineCapacity c;
    c.model = j.at("model").get<std::string>();
    c.vae_scale = j.at("vae_scale").get<int64_t>();
    c.has_refiner = j.at("has_refiner").get<bool>();
    c.is_refiner = j.at("is_refiner").get<bool>();
    c.one_shot = j.at("one_shot").get<bool>();
    c.base = footprint_of(j.at("base"));
    c.refiner = footprint_of(j.at("refiner"));
    c.available_gib = j.at("available_gib").get<double>();
    SDXL_CHECK(c.vae_scale > 0 && c.vae_scale <= 64, Format, "[capacity] vae_scale ", c.vae_scale, " is out of range");
    return c;
  } catch (const json::exception& e) {
    fail(ErrorCode::Format, "[capacity] not an engine's capacity: ", e.what());
  }
}

MemoryEstimate estimate_memory(const EngineCapacity& c, const EngineRequest& request) {
  const GenerateRequest& r = request.generate;
  const int64_t prompts = std::max<int64_t>(1, static_cast<int64_t>(r.prompts.prompt.is_list() ? r.prompts.prompt.size() : 1));
  const int64_t images = prompts * r.prompts.num_images_per_prompt;
  MemoryEstimate base = estimate_memory(c.base, r, images, c.one_shot);
  base.available_gib = c.available_gib;
  if (request.refiner.mode == RefinerMode::None) return base;
  MemoryEstimate refiner = estimate_memory(c.refiner, r, images, c.one_shot);
  refiner.available_gib = c.available_gib;
  // One-shot: the two run in turn (the larger phase counts); kept loaded: both sets of weights.
  if (c.one_shot) return refiner.needed_gib() > base.needed_gib() ? refiner : base;
  base.weights_gib += refiner.weights_gib;
  base.activations_gib = std::max(base.activations_gib, refiner.activations_gib);
  return base;
}

void check_request(const EngineCapacity& c, const EngineRequest& request, double lora_gib) {
  const GenerateRequest& r = request.generate;
  const bool refine = request.refiner.mode != RefinerMode::None;
  SDXL_CHECK_PARAM(!refine || c.has_refiner, InvalidArgument, "refiner_mode", "[engine] a refiner mode was asked for, but no refiner is loaded");
  SDXL_CHECK_PARAM(!c.is_refiner || r.init_image.defined() || r.init_latents.defined(), InvalidArgument, "init_image", "[engine] ", c.model,
             " is a refiner, which refines an image: give a base model, or an init image");
  // Checked with or without a refiner: a value given out of range is refused, not ignored.
  const double frac = request.refiner.high_noise_frac, strength = request.refiner.strength;
  SDXL_CHECK_PARAM(frac > 0.0 && frac < 1.0, InvalidArgument, "high_noise_frac", "[engine] high_noise_frac must be in (0, 1), got ",
                   frac);
  SDXL_CHECK_PARAM(strength > 0.0 && strength <= 1.0, InvalidArgument, "refiner_strength",
                   "[engine] the refiner's strength must be in (0, 1], got ", strength);
  check_request(r, c.vae_scale);
  MemoryEstimate e = estimate_memory(c, request);
  e.weights_gib += lora_gib;
  SDXL_CHECK(e.fits(), OutOfMemory, "[memory] this request needs ", e.describe(),
             ": ask for fewer or smaller images, or use vae tiling or bf16 precision");
}

}  // namespace sdxl::pipeline

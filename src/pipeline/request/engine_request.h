// What an engine is asked: the options it loads with, and each request (the base's generation,
// the refiner's settings, the LoRAs) with its result. Apart from engine.h, so that what checks a
// request (engine_capacity.h, infotext.h) needs no engine.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lora/lora_set.h"
#include "core/op_types.h"
#include "pipeline/request/control_spec.h"
#include "pipeline/request/generate_request.h"
#include "pipeline/request/hires_spec.h"
#include "pipeline/sources/packed_layers.h"

namespace sdxl::pipeline {

enum class MemoryPolicy {
  KeepLoaded,  // every model stays loaded between calls
  OneShot,     // no two models in memory at once; each call loads what it needs again
};

struct EngineOptions {
  std::filesystem::path model;    // a base (or, for img2img only, a refiner) pipeline folder
  std::filesystem::path refiner;  // optional: an SDXL refiner folder
  std::string variant;            // "" or "fp16"
  Precision precision = Precision::F32;
  MemoryPolicy memory = MemoryPolicy::KeepLoaded;
  // optional: a tiny autoencoder (TAESD, diffusers AutoencoderTiny folder) for the final decode
  // and the previews; with taesd_encode, for init images too.
  std::filesystem::path taesd;
  bool taesd_encode = false;
  // Single-file checkpoints: the diffusers folders their architecture comes from.
  std::filesystem::path config, refiner_config;
  // A VAE instead of the models' own (base and refiner: the same latent space): a diffusers
  // AutoencoderKL folder or a single file (pipeline/vae_source.h).
  std::filesystem::path vae;
  // Where <lora:NAME:WEIGHT> tags in prompts find NAME.safetensors.
  std::filesystem::path lora_dir;
  // LoRAs merged in at load (a request asking for the same set does not bind the models again).
  std::vector<lora::LoraSpec> loras, refiner_loras;
  // The packed-weight cache (pipeline/sources/packed_layers.h): its folder (empty: none) and bound.
  PackedCacheSettings packed_cache;
};

enum class RefinerMode {
  None,      // the base's images as they are
  Ensemble,  // the base denoises the first high_noise_frac of the schedule, the refiner the rest
  Img2Img,   // the base finishes; the refiner runs img2img on its latents at `strength`
};

struct RefinerSettings {
  RefinerMode mode = RefinerMode::None;
  double high_noise_frac = 0.8;
  double strength = 0.3;
  std::optional<uint64_t> seed;  // default: the base's seed
};

struct EngineRequest {
  GenerateRequest generate;  // what the base runs (and the refiner's prompts, scores, sampler)
  RefinerSettings refiner;
  // LoRAs merged into the base's (and the refiner's) UNet and text encoders for this request,
  // in order; the base's also gets those of the prompt's <lora:NAME:WEIGHT> tags.
  std::vector<lora::LoraSpec> loras, refiner_loras;
  // AUTOMATIC1111's inpainting frame (imaging/a1111_inpaint.h) the images were made in, and
  // whether the original goes back over them (the caller's step, on the 8-bit images).
  std::shared_ptr<const imaging::InpaintFrame> inpaint_frame;
  std::optional<imaging::InpaintOptions> inpaint_options;  // what framed it (the PNG text says)
  bool inpaint_overlay = false;
  // ControlNets steering the base (a refiner gets none, as in diffusers' SDXL ControlNet
  // pipelines); the request's guess_mode applies to them.
  std::vector<ControlSpec> controlnets;
  std::optional<IpAdapterSpec> ip_adapter;  // the base's only, as the ControlNets
  // AUTOMATIC1111's hires fix: txt2img at the request's size, upscaled, then img2img at the
  // larger size (pipeline/request/hires_spec.h).
  std::optional<HiresSpec> hires;
};

struct EngineResult {
  GenerateResult final;  // the images (and latents) the caller asked for
  Tensor base_latents;   // with a refiner: the latents the base handed over
  Tensor first_pass_latents;  // with the hires fix: the first pass's latents
  std::vector<lora::LoraSpec> loras;  // the base's LoRAs this request ran with (tags included)
};

}  // namespace sdxl::pipeline

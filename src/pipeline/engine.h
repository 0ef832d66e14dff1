// The whole generation recipe behind one call: a base model and an optional refiner, with the
// refiner used as its model card describes (the ensemble of experts, or img2img on the base's
// result), and the memory policy of the process that holds them: kept warm across calls (a
// server) or loaded phase by phase and freed after (a one-shot CLI run).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "io/png.h"
#include "lora/lora_set.h"
#include "pipeline/sdxl_pipeline.h"

namespace sdxl::pipeline {

struct EngineCapacity;

enum class MemoryPolicy {
  KeepLoaded,  // every model stays loaded between calls
  OneShot,     // no two models in memory at once; each call loads what it needs again
};

struct EngineOptions {
  std::filesystem::path model;    // a base (or, for img2img only, a refiner) pipeline folder
  std::filesystem::path refiner;  // optional: an SDXL refiner folder
  std::string variant;            // "" or "fp16"
  ops::Precision precision = ops::Precision::F32;
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
};

struct EngineResult {
  GenerateResult final;  // the images (and latents) the caller asked for
  Tensor base_latents;   // with a refiner: the latents the base handed over
  std::vector<lora::LoraSpec> loras;  // the base's LoRAs this request ran with (tags included)
};

class Engine {
 public:
  static std::unique_ptr<Engine> load(const EngineOptions& options);
  EngineResult generate(const EngineRequest& request);

  // What generate() checks before it runs anything: the refiner settings, the request limits,
  // the memory estimate, and the prompt's <lora:...> tags (found in the LoRA folder); throws the
  // first problem. Returns the request with the tags taken out and the base's whole LoRA list.
  struct Checked {
    GenerateRequest generate;
    std::vector<lora::LoraSpec> loras;
  };
  Checked check(const EngineRequest& request) const;

  // What `request` would need beyond what is resident, against the memory available now.
  MemoryEstimate estimate_memory(const EngineRequest& request) const;
  // The facts another process checks requests against (pipeline/engine_capacity.h), with the
  // memory available now.
  EngineCapacity capacity() const;
  // Gives back what the largest request so far left reserved (activation arenas, scratch).
  void release_memory();
  // A preview of image `index` of `latents`: TAESD's decode when the engine has one, else the
  // linear latent-to-RGB projection (1/8 of the size).
  io::Image8 preview(const Tensor& latents, int64_t index = 0) const;

  bool has_refiner() const { return !options_.refiner.empty(); }
  bool is_refiner() const { return base_is_refiner_; }  // the main model is a refiner
  int64_t vae_scale() const { return vae_scale_; }
  const EngineOptions& options() const { return options_; }

 private:
  explicit Engine(EngineOptions options) : options_(std::move(options)) {}
  // A pipeline of `source` with the engine's precision, memory policy and codecs.
  SdxlPipeline load_pipeline(std::shared_ptr<const ModelSource> source) const;
  SdxlPipeline& base();
  SdxlPipeline& refiner();
  GenerateRequest refiner_request(const EngineRequest& request, const Tensor& base_latents) const;
  // Makes `pipeline` run with exactly `loras`: its UNet and text encoders are bound again, from
  // the plain checkpoint with the new set merged in, only when the set changes.
  struct Adapted {
    std::shared_ptr<const ModelSource> source;  // the plain source with `loras` merged in
    std::vector<lora::LoraSpec> loras;
  };
  static void use_loras(std::optional<SdxlPipeline>& pipeline, const std::shared_ptr<const ModelSource>& plain,
                        Adapted& adapted, const std::vector<lora::LoraSpec>& wanted);

  EngineOptions options_;
  std::shared_ptr<const ModelSource> base_source_, refiner_source_;  // configs read once, kept
  Adapted base_adapted_, refiner_adapted_;  // what the pipelines are bound from
  std::optional<SdxlPipeline> base_, refiner_;  // one-shot: loaded per call, freed in turn
  std::shared_ptr<const LatentCodec> taesd_;
  ModelFootprint base_footprint_, refiner_footprint_;
  bool base_is_refiner_ = false;
  int64_t vae_scale_ = 8;
};

}  // namespace sdxl::pipeline

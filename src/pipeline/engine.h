// The whole generation recipe behind one call: a base model and an optional refiner, with the
// refiner used as its model card describes (the ensemble of experts, or img2img on the base's
// result), and the memory policy of the process that holds them: kept warm across calls (a
// server) or loaded phase by phase and freed after (a one-shot CLI run).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "io/png.h"
#include "lora/lora_set.h"
#include "models/upscalers/rrdbnet.h"
#include "pipeline/request/engine_request.h"
#include "pipeline/sdxl_pipeline.h"

namespace sdxl::pipeline {

struct EngineCapacity;

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
  // A batch's prompts with one entry per image (num_images_per_prompt 1): what a second pass over
  // latents that hold every image takes (the refiner's, the hires fix's).
  static PromptRequest prompts_per_image(const PromptRequest& prompts);
  // The hires fix (engine_hires.cpp): the second pass's request, the whole run, the upscaler
  // model (the last one used kept warm unless one-shot).
  GenerateRequest hires_request(const GenerateRequest& first, const HiresSpec& spec) const;
  EngineResult generate_hires(const EngineRequest& request, const Checked& checked);
  std::shared_ptr<const models::RrdbNet> upscaler(const std::filesystem::path& file);
  bool one_shot_memory() const { return options_.memory == MemoryPolicy::OneShot; }
  // Makes `pipeline` run with exactly `loras`, when the set changes: the layers the old or new
  // set touches are re-packed in memory (ARCHITECTURE, departure 12), or, where that cannot be
  // done, the UNet and text encoders are bound again from the plain checkpoint with the set merged.
  struct Adapted {
    std::shared_ptr<const ModelSource> source;  // the plain source with `loras` merged in
    std::vector<lora::LoraSpec> loras;
  };
  // The request's ControlNet and T2I-Adapter units made for an output of width x height, into
  // `r`: each model loaded (kept for later requests unless one-shot), each image preprocessed and fitted.
  void control_units(const EngineRequest& request, int64_t width, int64_t height, GenerateRequest& r);
  // The request's IP-Adapter made into `r`'s unit: the adapter and its image encoder loaded (kept
  // like the ControlNets), the image preprocessed.
  void image_prompt_unit(const EngineRequest& request, GenerateRequest& r);
  // The memory the request's ControlNets not loaded yet will take.
  double controlnets_gib(const EngineRequest& request) const;
  static void use_loras(std::optional<SdxlPipeline>& pipeline, const std::shared_ptr<const ModelSource>& plain,
                        Adapted& adapted, const std::vector<lora::LoraSpec>& wanted);

  EngineOptions options_;
  std::shared_ptr<const ModelSource> base_source_, refiner_source_;  // configs read once, kept
  Adapted base_adapted_, refiner_adapted_;  // what the pipelines are bound from
  std::optional<SdxlPipeline> base_, refiner_;  // one-shot: loaded per call, freed in turn
  std::shared_ptr<const LatentCodec> taesd_;
  // Loaded ControlNets by file and config (kept warm, like the pipelines).
  std::map<std::string, std::shared_ptr<const models::ControlNetModel>> controlnets_;
  std::map<std::string, std::shared_ptr<const models::T2IAdapter>> adapters_;
  std::map<std::string, std::shared_ptr<const models::IpAdapter>> ip_adapters_;
  std::map<std::string, std::shared_ptr<const models::ClipVisionModel>> image_encoders_;
  std::map<std::string, std::shared_ptr<const models::RrdbNet>> upscalers_;
  ModelFootprint base_footprint_, refiner_footprint_;
  bool base_is_refiner_ = false;
  int64_t vae_scale_ = 8;
};

}  // namespace sdxl::pipeline

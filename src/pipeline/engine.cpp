#include "pipeline/engine.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "core/memory.h"
#include "pipeline/sources/component_loader.h"
#include "pipeline/request/engine_capacity.h"
#include "pipeline/stages/image_processor.h"
#include "pipeline/stages/latent_preview.h"
#include "pipeline/sources/lora_source.h"
#include "pipeline/prompts/lora_tags.h"
#include "pipeline/sources/vae_source.h"

namespace sdxl::pipeline {
namespace {

// A prompt list with each entry repeated `n` times (one per image); a single text stays as it is.
PromptArg per_image(const PromptArg& arg, int64_t n) {
  if (!arg.is_list() || n == 1) return arg;
  std::vector<std::string> out;
  for (const auto& item : arg.for_batch(arg.size(), "prompt"))
    for (int64_t k = 0; k < n; ++k) out.push_back(item);
  return PromptArg::list(std::move(out));
}

bool one_shot(const EngineOptions& o) { return o.memory == MemoryPolicy::OneShot; }

}  // namespace

std::unique_ptr<Engine> Engine::load(const EngineOptions& options) {
  std::unique_ptr<Engine> engine(new Engine(options));
  Engine& e = *engine;
  if (!options.taesd.empty())
    e.taesd_ = std::make_shared<TinyAutoencoderCodec>(load_tiny_autoencoder(options.taesd, options.precision));
  e.base_source_ = with_vae(open_model_source(options.model, options.variant, options.config), options.vae);
  e.base_adapted_ = {with_loras(e.base_source_, options.loras), options.loras};
  SdxlPipeline& base = e.base();
  e.base_is_refiner_ = base.is_refiner();
  e.vae_scale_ = base.vae_scale();
  e.base_footprint_ = base.footprint();
  if (!options.refiner.empty()) {
    e.refiner_source_ = with_vae(open_model_source(options.refiner, options.variant, options.refiner_config), options.vae);
    SDXL_CHECK(e.refiner_source_->is_refiner(), InvalidArgument, "[engine] ", options.refiner.string(),
               " is not a refiner (its model_index.json lacks requires_aesthetics_score)");
    SDXL_CHECK(!e.base_is_refiner_, InvalidArgument, "[engine] the main model ", options.model.string(),
               " is a refiner itself: give a base model with a refiner");
    e.refiner_adapted_ = {with_loras(e.refiner_source_, options.refiner_loras), options.refiner_loras};
    e.refiner_footprint_ = SdxlPipeline::footprint(*e.refiner_source_, options.precision);
    // Kept warm: loaded now, so load errors show here. One-shot: loaded at the hand-over,
    // after the base is freed (both in fp32 would need ~23 GiB).
    if (!one_shot(options)) {
      e.refiner();
      e.refiner_footprint_.loaded = true;
    }
  }
  return engine;
}

SdxlPipeline Engine::load_pipeline(std::shared_ptr<const ModelSource> source) const {
  SdxlPipeline p = SdxlPipeline::load(std::move(source), options_.precision, one_shot(options_), options_.packed_cache);
  p.use_codecs(taesd_, options_.taesd_encode ? taesd_ : nullptr);
  return p;
}

SdxlPipeline& Engine::base() {
  if (!base_) base_.emplace(load_pipeline(base_adapted_.source));
  return *base_;
}

SdxlPipeline& Engine::refiner() {
  if (!refiner_) refiner_.emplace(load_pipeline(refiner_adapted_.source));
  return *refiner_;
}

void Engine::use_loras(std::optional<SdxlPipeline>& pipeline, const std::shared_ptr<const ModelSource>& plain,
                       Adapted& adapted, const std::vector<lora::LoraSpec>& wanted) {
  if (wanted == adapted.loras) return;
  Adapted next{with_loras(plain, wanted), wanted};  // throws on a bad LoRA, before anything changes
  adapted = std::move(next);
  if (pipeline) pipeline->use_source(adapted.source);
}

EngineCapacity Engine::capacity() const {
  EngineCapacity c;
  c.model = options_.model.string();
  c.vae_scale = vae_scale_;
  c.has_refiner = has_refiner();
  c.is_refiner = base_is_refiner_;
  c.one_shot = one_shot(options_);
  c.base = base_footprint_;
  c.refiner = refiner_footprint_;
  c.available_gib = available_memory_gib();
  return c;
}

MemoryEstimate Engine::estimate_memory(const EngineRequest& request) const {
  return pipeline::estimate_memory(capacity(), request);
}

io::Image8 Engine::preview(const Tensor& latents, int64_t index) const {
  if (!taesd_) return latent_preview(latents, index);
  SDXL_CHECK(index >= 0 && index < latents.dim(0), InvalidArgument, "[preview] image ", index, " of ", latents.dim(0));
  const Tensor one = latents.slice_rows(index, 1);
  Arena arena;
  const Tensor image = taesd_->decode(arena, one, false, {});  // [1, H, W, 3] in [0, 1]
  return io::Image8{image.dim(2), image.dim(1), 3, to_8bit(image)};
}

void Engine::release_memory() {
  if (base_) base_->release_activation_memory();
  if (refiner_) refiner_->release_activation_memory();
  return_free_memory_to_system();
  log_info("[memory] activation memory released: ", resident_gib(), " GiB resident");
}

PromptRequest Engine::prompts_per_image(const PromptRequest& prompts) {
  PromptRequest p = prompts;
  const int64_t per_prompt = p.num_images_per_prompt;
  p.num_images_per_prompt = 1;
  p.prompt = per_image(p.prompt, per_prompt);
  p.prompt_2 = per_image(p.prompt_2, per_prompt);
  p.negative_prompt = per_image(p.negative_prompt, per_prompt);
  p.negative_prompt_2 = per_image(p.negative_prompt_2, per_prompt);
  return p;
}

GenerateRequest Engine::refiner_request(const EngineRequest& request, const Tensor& base_latents) const {
  GenerateRequest r = request.generate;
  r.prompts = prompts_per_image(r.prompts);  // the base latents hold every image
  r.init_image = Tensor();
  r.mask = Tensor();
  r.controlnets.clear();  // the ControlNets and adapters steer the base only
  r.adapters.clear();
  r.ip_adapter.reset();
  r.guess_mode = false;
  r.init_latents = base_latents;
  r.denoising_end.reset();
  r.seed = request.refiner.seed.value_or(request.generate.seed);
  r.stage = "refining";
  if (request.refiner.mode == RefinerMode::Ensemble)
    r.denoising_start = request.refiner.high_noise_frac;
  else
    r.strength = request.refiner.strength;
  return r;
}

namespace {

// A file named twice (two tags, or a tag and the list) is one LoRA whose weights add up: its
// delta is linear in the weight, so this is what applying it twice would give, loaded once.
std::vector<lora::LoraSpec> one_per_file(std::vector<lora::LoraSpec> loras) {
  std::vector<lora::LoraSpec> merged;
  std::vector<std::filesystem::path> keys;
  for (auto& l : loras) {
    std::error_code ec;
    std::filesystem::path key = std::filesystem::weakly_canonical(l.path, ec);
    if (ec) key = l.path;
    const auto at = std::find(keys.begin(), keys.end(), key);
    if (at != keys.end()) {
      merged[static_cast<size_t>(at - keys.begin())].weight += l.weight;
      continue;
    }
    keys.push_back(std::move(key));
    merged.push_back(std::move(l));
  }
  SDXL_CHECK_PARAM(merged.size() <= RequestLimits::kMaxLoras, InvalidArgument, "loras", "[lora] ", merged.size(),
             " LoRAs (the list and the prompt's tags together) are more than ", RequestLimits::kMaxLoras);
  for (const auto& l : merged)
    SDXL_CHECK_PARAM(std::isfinite(l.weight) && std::abs(l.weight) <= RequestLimits::kMaxLoraWeight, InvalidArgument, "loras", "[lora] ",
               l.path.filename().string(), ": the weight ", l.weight, " is outside [-", RequestLimits::kMaxLoraWeight, ", ",
               RequestLimits::kMaxLoraWeight, "]");
  return merged;
}

}  // namespace

Engine::Checked Engine::check(const EngineRequest& request) const {
  Checked c{request.generate, request.loras};
  GenerateRequest& r = c.generate;
  const auto take_tags = [&](std::string& text) {
    for (const LoraTag& tag : take_lora_tags(text)) c.loras.push_back({find_lora_file(options_.lora_dir, tag.name), tag.weight});
  };
  r.prompts.prompt.edit_each(take_tags);
  r.prompts.prompt_2.edit_each(take_tags);
  c.loras = one_per_file(std::move(c.loras));
  double lora_gib = 0;
  for (const auto& l : c.loras) {
    std::error_code ec;
    SDXL_CHECK_PARAM(std::filesystem::is_regular_file(l.path, ec), Io, "loras", "[lora] ", l.path.string(), ": no such file");
    lora_gib += static_cast<double>(std::filesystem::file_size(l.path, ec)) / (1024.0 * 1024.0 * 1024.0);
  }
  EngineRequest without_tags = request;
  without_tags.generate = r;
  check_control_specs(request.controlnets, base_is_refiner_);
  if (request.ip_adapter) check_ip_adapter_spec(*request.ip_adapter, base_is_refiner_);
  check_request(capacity(), without_tags, lora_gib + controlnets_gib(request));
  if (request.hires) {
    const char* field = "enable_hr";
    SDXL_CHECK_PARAM(!r.init_image.defined() && !r.init_latents.defined(), InvalidArgument, field,
                     "[hires] the hires fix is a txt2img option: this request has an init image");
    SDXL_CHECK_PARAM(request.refiner.mode == RefinerMode::None, InvalidArgument, field,
                     "[hires] the hires fix and a refiner in one request are not supported");
    SDXL_CHECK_PARAM(request.controlnets.empty() && !request.ip_adapter, InvalidArgument, field,
                     "[hires] the hires fix with ControlNet or IP-Adapter units is not supported yet");
    check_hires_spec(*request.hires, r.width, r.height);
    // The second pass at its size, against the same limits and the memory available.
    EngineRequest second = without_tags;
    second.hires.reset();
    second.generate = hires_request(r, *request.hires);
    second.generate.init_latents = Tensor();
    check_request(capacity(), second, lora_gib);
  }
  return c;
}

EngineResult Engine::generate(const EngineRequest& request) {
  const Checked checked = check(request);
  const GenerateRequest& r = checked.generate;
  const std::vector<lora::LoraSpec>& loras = checked.loras;
  const bool refine = request.refiner.mode != RefinerMode::None;
  use_loras(base_, base_source_, base_adapted_, loras);
  if (refine) use_loras(refiner_, refiner_source_, refiner_adapted_, request.refiner_loras);

  if (request.hires) return generate_hires(request, checked);

  EngineResult result;
  result.loras = loras;
  GenerateRequest base_request = r;
  if (!request.controlnets.empty()) {
    const bool sized = r.init_image.defined();
    control_units(request, sized ? r.init_image.dim(3) : r.width, sized ? r.init_image.dim(2) : r.height, base_request);
  }
  image_prompt_unit(request, base_request);
  if (!refine) {
    result.final = base().generate(base_request);
    return result;
  }
  base_request.decode = false;
  if (request.refiner.mode == RefinerMode::Ensemble) base_request.denoising_end = request.refiner.high_noise_frac;
  const GenerateResult base_result = base().generate(base_request);
  base_request.controlnets.clear();  // one-shot: the nets (not kept) leave before the refiner loads
  base_request.adapters.clear();
  base_request.ip_adapter.reset();
  result.base_latents = base_result.latents;
  if (base_result.finished_early) {
    // Told to finish during the base's steps: the refiner's are skipped, the base's latents decoded.
    result.final = base_result;
    if (r.decode) result.final.images = base().decode(r, base_result.latents);
    return result;
  }
  if (one_shot(options_)) {
    base_.reset();  // never needed again in this call: its weights go before the refiner's load
    return_free_memory_to_system();
  }
  EngineRequest handed_over = request;
  handed_over.generate.prompts = r.prompts;  // without the tags
  result.final = refiner().generate(refiner_request(handed_over, result.base_latents));
  result.final.seconds.text += base_result.seconds.text;  // both models' stages, added up
  result.final.seconds.denoise += base_result.seconds.denoise;
  if (one_shot(options_)) {
    refiner_.reset();
    return_free_memory_to_system();
  }
  return result;
}

}  // namespace sdxl::pipeline

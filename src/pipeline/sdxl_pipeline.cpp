#include "pipeline/sdxl_pipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>

#include "core/log.h"
#include "core/memory.h"
#include "io/json_file.h"
#include "ops.h"
#include "pipeline/sources/component_loader.h"
#include "pipeline/stages/conditioning.h"
#include "pipeline/stages/inpainting.h"
#include "pipeline/stages/variation_noise.h"
#include "pipeline/stages/tensor_batch.h"
#include "pipeline/request/scheduler_spec.h"

namespace sdxl::pipeline {
namespace {

// Each image's seed: seed + i, or the seed itself for all with a variation seed (as AUTOMATIC1111
// numbers them).
std::vector<uint64_t> image_seeds(const GenerateRequest& r, int64_t images) {
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < images; ++i) seeds.push_back(r.seed + (r.subseed_strength > 0 ? 0 : static_cast<uint64_t>(i)));
  return seeds;
}

// diffusers' cut-off timestep for a denoising_start / denoising_end fraction.
double cutoff_timestep(double fraction, int64_t train_steps) {
  return static_cast<double>(std::llround(static_cast<double>(train_steps) - fraction * static_cast<double>(train_steps)));
}

// Reports to the request's callback; its "cancel" becomes the Cancelled error that unwinds the
// call. True when it asks to finish now.
bool report(const GenerateRequest& r, const Progress& progress) {
  if (!r.on_progress) return false;
  const ProgressAnswer answer = r.on_progress(progress);
  if (answer == ProgressAnswer::Cancel) fail(ErrorCode::Cancelled, "[pipeline] cancelled by the caller while ", progress.stage);
  return answer == ProgressAnswer::Finish;
}

// An encode or decode runs to its end: a "finish" is heard by the next denoising step.
CodecProgress reporting(const GenerateRequest& r, const char* stage) {
  if (!r.on_progress) return {};
  return [&r, stage](int64_t done, int64_t total) { (void)report(r, Progress{stage, done, total, nullptr}); };
}

double gib(double bytes) { return bytes / (1024.0 * 1024.0 * 1024.0); }

double weights_gib(const ModelSource& source, const std::string& component, double bytes_per_value) {
  if (!source.has(component)) return 0.0;
  double values = 0;
  const io::WeightSet weights = source.weights(component);
  for (const auto& name : weights.names()) values += static_cast<double>(weights.record(name)->shape.numel());
  return gib(values * bytes_per_value);
}

}  // namespace

SdxlPipeline SdxlPipeline::load(std::shared_ptr<const ModelSource> source, ops::Precision precision, bool one_shot,
                                const PackedCacheSettings& cache) {
  SdxlPipeline p;
  p.precision_ = precision;
  p.packed_cache_ = cache;
  p.source_ = std::move(source);
  const ModelSource& s = *p.source_;
  for (const char* needed : {"unet", "vae", "scheduler", "text_encoder_2"})
    SDXL_CHECK(s.has(needed), Format, "[model] ", s.location().string(), ": model_index.json has no ", needed);
  // One-shot: the text encoders load at the first prompt (with that call's LoRAs merged in).
  if (!one_shot) p.prompt_encoder_ = std::make_shared<PromptEncoder>(PromptEncoder::load(s, precision, &p.adaptable_, &p.packed_cache_));
  p.release_text_encoders_ = one_shot;
  p.unet_config_ = io::parse_unet_config(s.config("unet"), s.config_origin("unet"));
  p.vae_config_ = io::parse_vae_config(s.config("vae"), s.config_origin("vae"));
  if (!one_shot) {
    p.unet();
    p.codec();
  }
  p.scheduler_config_ = s.config("scheduler");
  p.projection_dim_ = io::parse_clip_text_config(s.config("text_encoder_2"), s.config_origin("text_encoder_2")).projection_dim;
  return p;
}

const LatentCodec& SdxlPipeline::codec() {
  if (!codec_) codec_ = std::make_shared<AutoencoderKlCodec>(load_vae(*source_, "vae", precision_, &packed_cache_), vae_config_);
  return *codec_;
}

models::UNet2DConditionModel& SdxlPipeline::unet() {
  if (!unet_)
    unet_ = std::make_shared<models::UNet2DConditionModel>(
        load_unet(*source_, "unet", precision_, release_text_encoders_ ? nullptr : &adaptable_["unet"],
                  &packed_cache_));
  return *unet_;
}

ModelFootprint SdxlPipeline::footprint(const ModelSource& source, ops::Precision precision) {
  const io::UNetConfig unet = io::parse_unet_config(source.config("unet"), source.config_origin("unet"));
  const io::VaeConfig vae = io::parse_vae_config(source.config("vae"), source.config_origin("vae"));
  const double compute_bytes = precision == ops::Precision::BF16 ? 2.0 : 4.0;
  const double vae_bytes = vae_precision(vae, precision) == ops::Precision::BF16 ? 2.0 : 4.0;
  ModelFootprint f;
  f.text_encoders_gib = weights_gib(source, "text_encoder", compute_bytes) + weights_gib(source, "text_encoder_2", compute_bytes);
  f.unet_gib = weights_gib(source, "unet", compute_bytes);
  f.vae_gib = weights_gib(source, "vae", vae_bytes);
  if (!unet.block_out_channels.empty()) f.unet_channels = unet.block_out_channels.front();
  if (!vae.block_out_channels.empty()) f.vae_channels = vae.block_out_channels.back();
  return f;
}

ModelFootprint SdxlPipeline::footprint() const {
  ModelFootprint f = footprint(*source_, precision_);
  f.loaded = !release_text_encoders_;
  return f;
}

void SdxlPipeline::use_source(std::shared_ptr<const ModelSource> source) {
  source_ = std::move(source);
  if (adapt_in_place()) return;
  unet_.reset();
  prompt_encoder_.reset();
  adaptable_.clear();
  return_free_memory_to_system();
}

bool SdxlPipeline::adapt_in_place() {
  // The loaded components, each with what the new source changes in it.
  std::vector<std::pair<models::AdaptableLayers*, std::shared_ptr<const io::TensorPatch>>> changes;
  for (const char* component : {"unet", "text_encoder", "text_encoder_2"}) {
    const bool loaded = std::string(component) == "unet" ? unet_ != nullptr : prompt_encoder_ != nullptr;
    if (!loaded || !source_->has(component)) continue;
    const auto layers = adaptable_.find(component);
    if (layers == adaptable_.end()) return false;
    std::shared_ptr<const io::TensorPatch> patch = source_->patch(component);
    if (!layers->second.can_adapt(patch.get())) return false;
    changes.emplace_back(&layers->second, std::move(patch));
  }
  size_t changed = 0;
  for (auto& [layers, patch] : changes) {
    layers->adapt(patch.get());
    changed += layers->changed();
  }
  log_info("[lora] layers changed in place: ", changed, " (the rest as loaded; nothing read from the checkpoint)");
  return_free_memory_to_system();
  return true;
}

void SdxlPipeline::release_activation_memory() {
  arena_ = std::make_unique<Arena>();
  if (unet_) unet_->release_activation_memory();
  ops::release_scratch();
  return_free_memory_to_system();
}

GuidanceSettings SdxlPipeline::effective_guidance(const GenerateRequest& r) const {
  GuidanceSettings g = r.guidance;
  // diffusers: a UNet with time_cond_proj_dim (LCM-distilled) takes the scale as an embedding,
  // never as classifier-free guidance.
  if (unet_config_.time_cond_proj_dim > 0) g.scale = std::min(g.scale, 1.0);
  return g;
}

PromptEmbeddings SdxlPipeline::encode_prompt(const GenerateRequest& r) {
  PromptRequest prompt_request = r.prompts;
  prompt_request.classifier_free_guidance = effective_guidance(r).enabled();
  if (unet_config_.time_cond_proj_dim > 0 && r.guidance.enabled() &&
      (r.prompts.negative_prompt.truthy() || r.prompts.negative_prompt_2.truthy()))
    log_warn("[pipeline] this UNet is guidance-distilled (LCM): the guidance scale is an input, without "
             "classifier-free guidance, so the negative prompt is not used");
  if (!prompt_encoder_)
    prompt_encoder_ = std::make_shared<PromptEncoder>(
        PromptEncoder::load(*source_, precision_, release_text_encoders_ ? nullptr : &adaptable_,
                            &packed_cache_));
  PromptEmbeddings emb = prompt_encoder_->encode(prompt_request);
  if (release_text_encoders_) {
    prompt_encoder_.reset();
    return_free_memory_to_system();
    log_info("[memory] text encoders freed: ", resident_gib(), " GiB resident");
  }
  return emb;
}

// The scheduler with its timesteps set, and the slice of them this call runs: diffusers'
// get_timesteps (strength cuts the schedule's head, denoising_start picks its tail) and the
// base's denoising_end cut of the ensemble of experts.
SdxlPipeline::Schedule SdxlPipeline::get_timesteps(const GenerateRequest& r, bool img2img) const {
  nlohmann::json config = scheduler_config_;
  for (auto it = r.scheduler_overrides.begin(); it != r.scheduler_overrides.end(); ++it) config[it.key()] = it.value();
  Schedule s;
  s.scheduler = samplers::make_scheduler(scheduler_spec(config, r.scheduler));
  s.scheduler->set_timesteps(r.steps);
  s.train_steps = config.value("num_train_timesteps", 1000);
  s.timesteps = s.scheduler->timesteps();
  auto& timesteps = s.timesteps;
  if (!img2img) {
    if (r.denoising_end) {
      const double cutoff = cutoff_timestep(*r.denoising_end, s.train_steps);
      size_t keep = 0;
      for (double t : timesteps) keep += t >= cutoff;
      timesteps.resize(keep);
    }
    return s;
  }
  if (r.denoising_start) {
    const double cutoff = cutoff_timestep(*r.denoising_start, s.train_steps);
    size_t n = 0;
    for (double t : timesteps) n += t < cutoff;
    if (s.scheduler->order() == 2 && n % 2 == 0) ++n;  // keep the second-order pairs whole
    n = std::min(n, timesteps.size());
    timesteps.erase(timesteps.begin(), timesteps.end() - static_cast<std::ptrdiff_t>(n));
  } else {
    const int64_t init_timestep = std::min<int64_t>(static_cast<int64_t>(static_cast<double>(r.steps) * r.strength), r.steps);
    const int64_t t_start = std::max<int64_t>(r.steps - init_timestep, 0);
    timesteps.erase(timesteps.begin(), timesteps.begin() + std::min<int64_t>(t_start * s.scheduler->order(),
                                                                             static_cast<int64_t>(timesteps.size())));
  }
  SDXL_CHECK(!timesteps.empty(), InvalidArgument, "[pipeline] strength ", r.strength, " with ", r.steps,
             " steps leaves no denoising step; raise the strength or the steps");
  return s;
}

void SdxlPipeline::use_codecs(std::shared_ptr<const LatentCodec> decoder, std::shared_ptr<const LatentCodec> encoder) {
  for (const auto* c : {decoder.get(), encoder.get()})
    SDXL_CHECK(!c || c->scale() == vae_config_.scale(), InvalidArgument, "[pipeline] the autoencoder scales images by ",
               c ? c->scale() : 0, " but the model's VAE by ", vae_config_.scale());
  decoder_ = std::move(decoder);
  encoder_ = std::move(encoder);
}

Tensor SdxlPipeline::encode_image(const GenerateRequest& r, const Tensor& image01, rng::BatchGenerators& generators) {
  const LatentCodec& c = encoder_ ? *encoder_ : codec();
  return c.encode(*arena_, image01, generators, reporting(r, "encoding"));
}

// diffusers' prepare_latents: noise scaled by init_noise_sigma (txt2img, or inpainting at full
// strength), the init image's latents noised to the first timestep (img2img), or the handed-over
// latents as they are (the refiner of the ensemble).
SdxlPipeline::PreparedLatents SdxlPipeline::prepare_latents(const GenerateRequest& r, const Schedule& s,
                                                            rng::BatchGenerators& generators) {
  const int64_t images = generators.images();
  const int64_t scale = vae_config_.scale(), channels = unet_config_.in_channels;
  const bool inpaint = r.mask.defined();
  PreparedLatents p;
  auto scaled_noise = [&](const Tensor& noise) {
    Tensor latents = noise.clone();
    ops::scale_shift(latents, static_cast<float>(s.scheduler->init_noise_sigma()), 0.0f, latents);
    return latents;
  };
  // AUTOMATIC1111's variation seed: the starting noise moved toward its subseed's (image i:
  // subseed + i). With a seed resize both are drawn at that size, from fresh generators of the
  // images' seeds, and put at the centre of the noise drawn at the real size.
  const auto varied = [&](Tensor noise) {
    const bool resized = r.seed_resize_from_width > 0 && r.seed_resize_from_height > 0 &&
                         (r.seed_resize_from_width / scale != noise.dim(3) || r.seed_resize_from_height / scale != noise.dim(2));
    Tensor base = noise;
    if (resized) {
      rng::BatchGenerators again = r.seeding == rng::BatchSeeding::Shared ? rng::BatchGenerators(r.seed, images, r.seeding)
                                                                          : rng::BatchGenerators(image_seeds(r, images));
      base = again.randn(Shape{images, noise.dim(1), r.seed_resize_from_height / scale, r.seed_resize_from_width / scale});
    }
    if (r.subseed_strength > 0) {
      rng::BatchGenerators sub(r.subseed, images, r.seeding);
      blend_variation(base, sub.randn(base.shape()), r.subseed_strength);
    }
    if (resized) place_centered(noise, base);
    return noise;
  };
  if (!r.init_image.defined() && !r.init_latents.defined()) {
    p.latents = scaled_noise(varied(generators.randn(Shape{images, channels, r.height / scale, r.width / scale})));
    return p;
  }
  const bool strength_max = r.strength == 1.0;
  if (r.init_latents.defined()) {
    p.image_latents = tile_batch(r.init_latents, images);
  } else if (!inpaint || !strength_max || channels == 4) {
    p.image_latents = encode_image(r, r.init_image, generators);
  }
  const Shape shape = p.image_latents.defined()
                          ? p.image_latents.shape()
                          : Shape{images, channels, r.init_image.dim(2) / scale, r.init_image.dim(3) / scale};
  if (!r.denoising_start) {
    p.noise = varied(generators.randn(shape));
    // AUTOMATIC1111's inpainting knobs touch only the starting point: the noise scaled, and the
    // area to repaint started from that noise or from nothing instead of the image.
    Tensor start_noise = p.noise;
    if (r.initial_noise_multiplier != 1.0) {
      start_noise = p.noise.clone();
      ops::scale_shift(start_noise, static_cast<float>(r.initial_noise_multiplier), 0.0f, start_noise);
    }
    Tensor start = p.image_latents;
    if (inpaint && start.defined() && r.masked_content != imaging::MaskedContent::Original &&
        r.masked_content != imaging::MaskedContent::Fill) {
      start = p.noise.clone();  // "latent noise": the starting noise itself, as AUTOMATIC1111's draw is
      if (r.masked_content == imaging::MaskedContent::LatentNothing) ops::scale_shift(start, 0.0f, 0.0f, start);
      keep_known_region(start, p.image_latents, mask_to_latents(r.mask, images, shape[2], shape[3]));
    }
    p.latents = inpaint && strength_max ? scaled_noise(start_noise) : s.scheduler->add_noise(start, start_noise, s.timesteps.front());
  } else {
    p.latents = p.image_latents.clone();
    if (inpaint) p.noise = generators.randn(shape);
  }
  return p;
}

// diffusers' prepare_mask_latents: the binarised mask nearest-resized to the latents; the masked
// image is VAE-encoded as diffusers does (its generator draw keeps the random stream aligned,
// though a 4-channel UNet ignores the result).
Tensor SdxlPipeline::prepare_mask_latents(const GenerateRequest& r, const Tensor& latents, rng::BatchGenerators& generators) {
  const Tensor mask_latents = mask_to_latents(r.mask, latents.dim(0), latents.dim(2), latents.dim(3));
  (void)encode_image(r, masked_image(r.init_image, r.mask), generators);
  return mask_latents;
}

// Each unit's ControlNet must meet this UNet where its residuals go (the same skip connections,
// channels and latent input), and its image must have the output's size.
// A T2I-Adapter's image must be the output's size, its sides multiples of the adapter's
// reduction; its features must have the channels of the UNet's levels they join.
void SdxlPipeline::check_adapters(const GenerateRequest& r, int64_t height, int64_t width) const {
  const auto& levels = unet_config_.block_out_channels;
  for (size_t u = 0; u < r.adapters.size(); ++u) {
    const AdapterUnit& unit = r.adapters[u];
    const io::T2IAdapterConfig& c = unit.model->config();
    SDXL_CHECK(unit.image.dim(2) == height && unit.image.dim(3) == width, InvalidArgument, "[t2i-adapter] unit ", u,
               ": the adapter image must be ", width, "x", height, ", got ", unit.image.dim(3), "x", unit.image.dim(2));
    SDXL_CHECK(unit.image.dim(1) == c.in_channels, InvalidArgument, "[t2i-adapter] unit ", u, ": the adapter takes ",
               c.in_channels, "-channel images, got ", unit.image.dim(1));
    SDXL_CHECK(height % c.downscale_factor == 0 && width % c.downscale_factor == 0, InvalidArgument,
               "[t2i-adapter] unit ", u, ": ", width, "x", height, " is not a multiple of the adapter's ",
               c.downscale_factor, " (choose a width and height divisible by it)");
    SDXL_CHECK(c.downscale_factor == 2 * vae_config_.scale() && levels.size() >= 3 && c.channels[0] == levels[0] &&
                   c.channels[1] == levels[1] && c.channels[2] == levels[2],
               InvalidArgument, "[t2i-adapter] unit ", u, ": the adapter's channels do not fit this UNet's levels (",
               "an adapter for another base model?)");
    SDXL_CHECK(unit.start >= 0.0 && unit.start <= unit.end && unit.end <= 1.0, InvalidArgument, "[t2i-adapter] unit ",
               u, ": start ", unit.start, " and end (conditioning factor) ", unit.end, " must satisfy 0 <= start <= end <= 1");
  }
}

void SdxlPipeline::check_controlnets(const GenerateRequest& r, int64_t height, int64_t width) const {
  const std::vector<int64_t> skips = models::ControlNetModel::residual_channels(unet_config_);
  for (size_t u = 0; u < r.controlnets.size(); ++u) {
    const ControlUnit& unit = r.controlnets[u];
    const io::UNetConfig& c = unit.model->config().unet;
    SDXL_CHECK(models::ControlNetModel::residual_channels(c) == skips && c.in_channels == 4 &&
                   c.cross_attention_dim.back() == unet_config_.cross_attention_dim.back() &&
                   c.projection_class_embeddings_input_dim == unet_config_.projection_class_embeddings_input_dim &&
                   c.addition_time_embed_dim == unet_config_.addition_time_embed_dim,
               InvalidArgument, "[controlnet] unit ", u, ": the ControlNet does not fit this model (its blocks, channels, ",
               "text width or added conditioning differ from the UNet's: a ControlNet for another base model?)");
    SDXL_CHECK(unit.image.defined() && unit.image.rank() == 4 && unit.image.dim(1) == 3 && unit.image.dim(2) == height &&
                   unit.image.dim(3) == width,
               InvalidArgument, "[controlnet] unit ", u, ": the control image must be ", width, "x", height,
               " (the output's size), got ", unit.image.defined() ? unit.image.shape().to_string() : std::string("none"));
    SDXL_CHECK(unit.model->config().image_scale() == vae_config_.scale(), InvalidArgument, "[controlnet] unit ", u,
               ": the ControlNet reduces its image ", unit.model->config().image_scale(), "x, the VAE ",
               vae_config_.scale(), "x");
    SDXL_CHECK(unit.start >= 0.0 && unit.start < unit.end && unit.end <= 1.0, InvalidArgument, "[controlnet] unit ", u,
               ": control_guidance_start ", unit.start, " must be below control_guidance_end ", unit.end,
               ", both in [0, 1]");
  }
}

Tensor SdxlPipeline::decode(const GenerateRequest& r, const Tensor& latents) {
  const LatentCodec& c = decoder_ ? *decoder_ : codec();
  return c.decode(*arena_, latents, r.vae_tiling, reporting(r, "decoding"));
}

GenerateResult SdxlPipeline::generate(const GenerateRequest& r) {
  check_request(r, vae_config_.scale());
  const bool inpaint = r.mask.defined();
  const bool img2img = r.init_image.defined() || r.init_latents.defined();

  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  GenerateResult result;
  const auto text_start = Clock::now();
  const PromptEmbeddings emb = encode_prompt(r);
  result.seconds.text = since(text_start);
  const auto denoise_start = Clock::now();  // from here to the decode: latents, init image, loop
  const int64_t images = emb.prompt_embeds.dim(0);  // batch x num_images_per_prompt
  Schedule schedule = get_timesteps(r, img2img);
  const std::string scheduler_class = r.scheduler.empty() ? scheduler_config_.value("_class_name", "") : r.scheduler;
  if (unet_config_.time_cond_proj_dim > 0 && scheduler_class != "LCMScheduler")
    log_warn("[pipeline] this UNet is LCM-distilled (time_cond_proj_dim): it is meant for the lcm sampler, not ",
             scheduler_class);
  rng::BatchGenerators generators = r.seeding == rng::BatchSeeding::Shared ? rng::BatchGenerators(r.seed, images, r.seeding)
                                                                          : rng::BatchGenerators(image_seeds(r, images));
  PreparedLatents prepared = prepare_latents(r, schedule, generators);
  Tensor& latents = prepared.latents;
  const Tensor mask_latents = inpaint ? prepare_mask_latents(r, latents, generators) : Tensor();
  const int64_t scale = vae_config_.scale(), height = latents.dim(2) * scale, width = latents.dim(3) * scale;

  const TimeIdsLayout layout = img2img ? TimeIdsLayout::Img2Img : TimeIdsLayout::Txt2Img;
  const TimeIds ids = make_time_ids(r, height, width, is_refiner(), layout);
  const auto& u = unet_config_;
  const int64_t passed = u.addition_time_embed_dim * static_cast<int64_t>(ids.positive.size()) + projection_dim_;
  SDXL_CHECK(passed == u.projection_class_embeddings_input_dim, InvalidArgument, "[pipeline] the UNet expects ",
             u.projection_class_embeddings_input_dim, " added-embedding values but the time ids and pooled text give ",
             passed, is_refiner() ? "" : " (a refiner UNet needs requires_aesthetics_score in model_index.json)");
  const GuidanceSettings guidance = effective_guidance(r);
  Conditioning cond = make_conditioning(emb, ids, guidance.enabled(), layout);
  if (u.time_cond_proj_dim > 0) cond.timestep_cond = guidance_scale_embedding(r.guidance.scale, u.time_cond_proj_dim, images);

  const auto& timesteps = schedule.timesteps;
  LatentsHook after_step = [&](size_t i, Tensor& x) {
    if (inpaint) {
      // Outside the mask the image's own latents, noised to the next timestep, are put back.
      const Tensor proper = i + 1 < timesteps.size()
                                ? schedule.scheduler->add_noise(prepared.image_latents, prepared.noise, timesteps[i + 1])
                                : prepared.image_latents;
      keep_known_region(x, proper, mask_latents);
    }
    const bool finish = report(r, Progress{r.stage, static_cast<int64_t>(i) + 1, static_cast<int64_t>(timesteps.size()), &x});
    if (finish && i + 1 < timesteps.size()) result.finished_early = true;
    return !finish;
  };
  log_info("[pipeline] ", images, " image(s) ", width, "x", height, ", ", timesteps.size(), " steps, guidance ",
           r.guidance.scale, ", seed ", r.seed);
  if (release_text_encoders_ && codec_) {
    codec_.reset();  // used for the init image; loaded again for the decode
    return_free_memory_to_system();
  }
  samplers::NoiseFn noise_fn = [&generators](float* out, int64_t n) { generators.randn(out, n); };
  ControlFn control;
  std::optional<ControlSteering> steering;
  std::optional<AdapterSteering> adapters;
  std::optional<ImagePrompt> image_prompt;
  models::ControlResiduals both;  // a step's ControlNet residuals with the adapters' features
  if (!r.controlnets.empty()) {
    check_controlnets(r, height, width);
    steering.emplace(r.controlnets, r.guess_mode, cond, guidance.enabled(), images, timesteps.size());
  }
  if (!r.adapters.empty()) {
    check_adapters(r, height, width);
    adapters.emplace(r.adapters, guidance.enabled(), images, timesteps.size());
  }
  if (r.ip_adapter) image_prompt.emplace(*r.ip_adapter, unet_config_, guidance.enabled(), images, timesteps.size());
  if (steering || adapters || image_prompt)
    control = [&](Arena& arena, size_t step, const Tensor& input, float t) -> const models::ControlResiduals* {
      const models::ControlResiduals* nets = steering ? (*steering)(arena, step, input, t) : nullptr;
      const std::vector<Tensor>* features = adapters ? (*adapters)(step) : nullptr;
      const std::vector<Tensor>* image_kv = image_prompt ? (*image_prompt)(step) : nullptr;
      if (!features && !image_kv) return nets;
      both = nets ? *nets : models::ControlResiduals{};
      both.intrablock = features ? *features : std::vector<Tensor>{};
      both.image_prompt = image_kv;
      return &both;
    };
  denoise(unet(), *schedule.scheduler, timesteps, cond, guidance, latents, noise_fn, *arena_, after_step, control);
  result.seconds.denoise = since(denoise_start);

  if (release_text_encoders_) {
    // One-shot: the UNet and its activations leave before the VAE decode needs its own
    // (a full-resolution decode is the other memory peak); the next call loads it again.
    unet_.reset();
    arena_ = std::make_unique<Arena>();
    return_free_memory_to_system();
    log_info("[memory] UNet freed before the VAE decode: ", resident_gib(), " GiB resident");
  }

  result.latents = latents.clone();
  const auto decode_start = Clock::now();
  if (r.decode) result.images = decode(r, latents);
  result.seconds.decode = since(decode_start);
  return result;
}

}  // namespace sdxl::pipeline

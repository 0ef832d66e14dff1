// The C API's engine and generation entry points: C parameters to an EngineRequest and back;
// the recipe itself is the pipeline's (pipeline/engine.h).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "capi/c_api_guard.h"
#include "core/error.h"
#include "core/memory.h"
#include "io/image_file.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "pipeline/engine.h"
#include "pipeline/engine_capacity.h"
#include "pipeline/image_processor.h"
#include "pipeline/infotext.h"
#include "pipeline/lora_source.h"
#include "pipeline/model_convert.h"
#include "pipeline/request_limits.h"
#include "pipeline/sampler_table.h"
#include "sdxl/sdxl.h"

struct sdxl_engine {
  std::unique_ptr<sdxl::pipeline::Engine> engine;
  std::mutex busy;  // held by the generation in progress (try_lock: a second caller gets BUSY)
};

namespace {

using sdxl::ErrorCode;
using sdxl::pipeline::PromptArg;
using sdxl::pipeline::SizeHW;
using Limits = sdxl::pipeline::RequestLimits;
static_assert(SDXL_MIN_SIDE == Limits::kMinSide && SDXL_MAX_SIDE == Limits::kMaxSide &&
                  SDXL_MAX_STEPS == Limits::kMaxSteps && SDXL_MAX_IMAGES == Limits::kMaxImages,
              "sdxl.h's limits are the pipeline's");

std::optional<SizeHW> size_or_none(int width, int height, const char* what) {
  if (width == 0 && height == 0) return std::nullopt;
  SDXL_CHECK(width > 0 && height > 0, InvalidArgument, "[generate] ", what, " must be positive, got ", width, "x", height);
  return SizeHW{height, width};
}

sdxl::io::Image8 image_of(const unsigned char* pixels, int width, int height, int channels, const char* what) {
  SDXL_CHECK(width > 0 && height > 0 && width <= sdxl::io::kMaxImageSide && height <= sdxl::io::kMaxImageSide &&
                 (channels == 1 || channels == 3 || channels == 4),
             InvalidArgument, "[generate] the ", what, " must have 1, 3 or 4 channels and sides between 1 and ",
             sdxl::io::kMaxImageSide, ", got ", width, "x", height, "x", channels);
  return {width, height, channels, std::vector<uint8_t>(pixels, pixels + static_cast<size_t>(width) * height * channels)};
}

void set_prompts(const sdxl_generate_params& p, sdxl::pipeline::PromptRequest& r) {
  SDXL_CHECK(p.prompts && p.prompt_count > 0, InvalidArgument, "[generate] no prompt given");
  std::vector<std::string> prompts;
  for (int i = 0; i < p.prompt_count; ++i) {
    SDXL_CHECK(p.prompts[i], InvalidArgument, "[generate] prompt ", i, " is NULL");
    prompts.emplace_back(p.prompts[i]);
  }
  r.prompt = prompts.size() == 1 ? PromptArg::text(prompts[0]) : PromptArg::list(prompts);
  if (p.negative_prompt_count > 0) {
    SDXL_CHECK(p.negative_prompts, InvalidArgument, "[generate] negative_prompts is NULL");
    std::vector<std::string> negatives;
    for (int i = 0; i < p.negative_prompt_count; ++i) negatives.emplace_back(p.negative_prompts[i] ? p.negative_prompts[i] : "");
    SDXL_CHECK(negatives.size() == 1 || negatives.size() == prompts.size(), InvalidArgument, "[generate] ",
               negatives.size(), " negative prompts for ", prompts.size(), " prompts: give one for all or one each");
    r.negative_prompt = negatives.size() == 1 ? PromptArg::text(negatives[0]) : PromptArg::list(negatives);
  }
  if (p.prompt_2) r.prompt_2 = PromptArg::text(p.prompt_2);
  if (p.negative_prompt_2) r.negative_prompt_2 = PromptArg::text(p.negative_prompt_2);
  r.num_images_per_prompt = p.images_per_prompt;
  if (p.clip_skip >= 0) r.clip_skip = p.clip_skip;
  r.syntax = sdxl::capi::prompt_syntax(p.prompt_syntax);
  if (p.embedding_dir && *p.embedding_dir) r.embedding_dir = p.embedding_dir;
}

// The init image and mask through diffusers' VaeImageProcessor (pipeline/image_processor.h).
void set_images(const sdxl_generate_params& p, int64_t scale, sdxl::pipeline::GenerateRequest& r) {
  if (!p.init_image) {
    SDXL_CHECK(!p.mask, InvalidArgument, "[generate] a mask needs an init image");
    return;
  }
  const auto image = image_of(p.init_image, p.init_width, p.init_height, p.init_channels, "init image");
  const auto size = sdxl::pipeline::processed_size(image, p.fit_to_size ? p.width : 0, p.fit_to_size ? p.height : 0, scale);
  sdxl::pipeline::check_size(size.width, size.height, scale, "the size to generate (the init image's, rounded down)");
  r.init_image = sdxl::pipeline::preprocess_image(image, size);
  r.width = size.width;
  r.height = size.height;
  if (p.mask) {
    SDXL_CHECK(p.mask_width == p.init_width && p.mask_height == p.init_height, InvalidArgument, "[generate] the mask is ",
               p.mask_width, "x", p.mask_height, " but the image is ", p.init_width, "x", p.init_height);
    r.mask = sdxl::pipeline::preprocess_mask(image_of(p.mask, p.mask_width, p.mask_height, p.mask_channels, "mask"), size);
  }
}

sdxl::pipeline::RefinerSettings refiner_settings(const sdxl_generate_params& p, bool has_refiner) {
  sdxl::pipeline::RefinerSettings s;
  const std::string mode = p.refiner_mode ? p.refiner_mode : (has_refiner ? "ensemble" : "none");
  if (mode == "ensemble") s.mode = sdxl::pipeline::RefinerMode::Ensemble;
  else if (mode == "img2img") s.mode = sdxl::pipeline::RefinerMode::Img2Img;
  else SDXL_CHECK(mode == "none", InvalidArgument, "[generate] refiner mode '", mode, "' is not one of ensemble, img2img, none");
  s.high_noise_frac = p.high_noise_frac;
  s.strength = p.refiner_strength;
  if (p.has_refiner_seed) s.seed = p.refiner_seed;
  return s;
}

// Progress to the C callback: previews made on the steps asked for, the callback's non-zero
// answer turned into a cancel.
sdxl::pipeline::ProgressFn progress_of(const sdxl_generate_params& p, const sdxl::pipeline::Engine& engine) {
  if (!p.progress) return {};
  auto callback = p.progress;
  void* user = p.progress_user_data;
  const int every = p.preview_every;
  return [callback, user, every, &engine](const sdxl::pipeline::Progress& progress) {
    sdxl_progress out{};
    out.stage = progress.stage;
    out.step = static_cast<int>(progress.step);
    out.total_steps = static_cast<int>(progress.total);
    sdxl::io::Image8 preview;
    const bool wanted = every > 0 && progress.latents &&
                        (progress.step % every == 0 || progress.step == progress.total);
    if (wanted && progress.latents->dim(1) == 4) {
      preview = engine.preview(*progress.latents);
      out.preview = preview.pixels.data();
      out.preview_width = static_cast<int>(preview.width);
      out.preview_height = static_cast<int>(preview.height);
    }
    return callback(&out, user) == 0;
  };
}

std::vector<sdxl::lora::LoraSpec> loras_of(const sdxl_lora* loras, int count, const char* what) {
  SDXL_CHECK(count >= 0 && count <= 64 && (count == 0 || loras), InvalidArgument, "[generate] ", what, ": ", count,
             " LoRAs (at most 64, and not NULL)");
  std::vector<sdxl::lora::LoraSpec> out;
  for (int i = 0; i < count; ++i) {
    SDXL_CHECK(loras[i].path && *loras[i].path, InvalidArgument, "[generate] ", what, "[", i, "].path is empty");
    SDXL_CHECK(std::isfinite(loras[i].weight), InvalidArgument, "[generate] ", what, "[", i, "].weight is not finite");
    out.push_back({loras[i].path, loras[i].weight});
  }
  return out;
}

// `engine`: for the progress callback's previews; null where nothing runs (a capacity check).
sdxl::pipeline::EngineRequest to_request(const sdxl_generate_params& p, const sdxl::pipeline::Engine* engine,
                                         int64_t vae_scale, bool has_refiner) {
  sdxl::pipeline::EngineRequest request;
  sdxl::pipeline::GenerateRequest& r = request.generate;
  set_prompts(p, r.prompts);
  r.width = p.width;
  r.height = p.height;
  r.steps = p.steps;
  r.guidance.scale = p.guidance_scale;
  r.guidance.rescale = p.guidance_rescale;
  r.seed = p.seed;
  const auto sampler = sdxl::pipeline::resolve_sampler(p.sampler ? p.sampler : "euler", p.scheduler ? p.scheduler : "",
                                                       p.karras != 0);
  r.scheduler = sampler.entry->scheduler;
  r.scheduler_overrides = sampler.overrides();
  if (p.timestep_spacing) {
    const std::string spacing = p.timestep_spacing;
    SDXL_CHECK(spacing == "leading" || spacing == "linspace" || spacing == "trailing", InvalidArgument,
               "[generate] timestep spacing '", spacing, "' is not one of leading, linspace, trailing");
    r.scheduler_overrides["timestep_spacing"] = spacing;
  }
  r.original_size = size_or_none(p.original_width, p.original_height, "original size");
  r.target_size = size_or_none(p.target_width, p.target_height, "target size");
  r.negative_original_size = size_or_none(p.negative_original_width, p.negative_original_height, "negative original size");
  r.negative_target_size = size_or_none(p.negative_target_width, p.negative_target_height, "negative target size");
  r.crops_coords_top_left = {p.crop_top, p.crop_left};
  r.negative_crops_coords_top_left = {p.negative_crop_top, p.negative_crop_left};
  set_images(p, vae_scale, r);
  r.strength = p.strength;
  if (p.init_latents) {
    SDXL_CHECK(p.init_latent_count > 0 && p.init_latent_channels > 0 && p.init_latent_height > 0 &&
                   p.init_latent_width > 0 && p.init_latent_height <= Limits::kMaxSide && p.init_latent_width <= Limits::kMaxSide &&
                   p.init_latent_count <= Limits::kMaxImages && p.init_latent_channels <= 16,
               InvalidArgument, "[generate] init latents of ", p.init_latent_count, "x", p.init_latent_channels, "x",
               p.init_latent_height, "x", p.init_latent_width, " are not a batch of latents");
    sdxl::Shape shape{p.init_latent_count, p.init_latent_channels, p.init_latent_height, p.init_latent_width};
    r.init_latents = sdxl::Tensor::empty(shape, sdxl::DType::F32);
    std::memcpy(r.init_latents.raw(), p.init_latents, r.init_latents.nbytes());
  }
  if (p.denoising_start != 0) r.denoising_start = p.denoising_start;
  if (p.denoising_end != 0) r.denoising_end = p.denoising_end;
  r.aesthetic_score = p.aesthetic_score;
  r.negative_aesthetic_score = p.negative_aesthetic_score;
  r.decode = p.decode != 0;
  r.vae_tiling = p.vae_tiling != 0;
  if (engine) r.on_progress = progress_of(p, *engine);
  request.refiner = refiner_settings(p, has_refiner);
  request.loras = loras_of(p.loras, p.lora_count, "loras");
  request.refiner_loras = loras_of(p.refiner_loras, p.refiner_lora_count, "refiner_loras");
  return request;
}

sdxl::pipeline::EngineRequest to_request(const sdxl_generate_params& p, const sdxl::pipeline::Engine& engine) {
  return to_request(p, &engine, engine.vae_scale(), engine.has_refiner());
}

void free_images(sdxl_images* images) {
  if (!images) return;
  std::free(images->pixels);
  std::free(images->latents);
  for (int i = 0; i < images->lora_count; ++i) std::free(const_cast<char*>(images->loras[i].path));
  std::free(images->loras);
  delete images;
}

sdxl_images* to_images(const sdxl::pipeline::EngineResult& engine_result) {
  const sdxl::pipeline::GenerateResult& result = engine_result.final;
  std::unique_ptr<sdxl_images, void (*)(sdxl_images*)> out(new sdxl_images, free_images);
  std::memset(out.get(), 0, sizeof(sdxl_images));
  if (!engine_result.loras.empty()) {
    out->loras = static_cast<sdxl_lora*>(std::calloc(engine_result.loras.size(), sizeof(sdxl_lora)));
    if (!out->loras) throw std::bad_alloc();
    for (const auto& l : engine_result.loras) {
      char* path = strdup(l.path.c_str());
      if (!path) throw std::bad_alloc();
      out->loras[out->lora_count++] = {path, l.weight};
    }
  }
  const sdxl::Tensor& img = result.images;
  std::vector<uint8_t> bytes(1, 0);
  out->count = static_cast<int>(result.latents.dim(0));
  if (img.defined()) {
    out->height = static_cast<int>(img.dim(1));
    out->width = static_cast<int>(img.dim(2));
    out->channels = static_cast<int>(img.dim(3));
    bytes = sdxl::pipeline::to_8bit(img);
  }
  const sdxl::Tensor& lat = result.latents;
  out->latent_channels = static_cast<int>(lat.dim(1));
  out->latent_height = static_cast<int>(lat.dim(2));
  out->latent_width = static_cast<int>(lat.dim(3));
  out->pixels = static_cast<unsigned char*>(std::malloc(bytes.size()));
  out->latents = static_cast<float*>(std::malloc(lat.nbytes()));
  if (!out->pixels || !out->latents) throw std::bad_alloc();
  std::memcpy(out->pixels, bytes.data(), bytes.size());
  std::memcpy(out->latents, lat.raw(), lat.nbytes());
  return out.release();
}

// Image `index` of a set, as an 8-bit image.
sdxl::io::Image8 image_at(const sdxl_images* images, int index) {
  SDXL_CHECK(index >= 0 && index < images->count, InvalidArgument, "[png] image ", index, " of ", images->count);
  SDXL_CHECK(images->pixels && images->width > 0, InvalidArgument, "[png] the images were not decoded (latents only)");
  sdxl::io::Image8 image;
  image.width = images->width;
  image.height = images->height;
  image.channels = images->channels;
  const size_t size = static_cast<size_t>(image.width) * static_cast<size_t>(image.height) * static_cast<size_t>(image.channels);
  image.pixels.assign(images->pixels + static_cast<size_t>(index) * size, images->pixels + static_cast<size_t>(index + 1) * size);
  return image;
}

std::vector<std::pair<std::string, std::string>> parameters_text(const char* parameters) {
  if (!parameters) return {};
  return {{"parameters", parameters}};
}

sdxl_image* to_c_image(const sdxl::io::Image8& read) {
  auto out = std::make_unique<sdxl_image>();
  out->width = static_cast<int>(read.width);
  out->height = static_cast<int>(read.height);
  out->channels = static_cast<int>(read.channels);
  out->pixels = static_cast<unsigned char*>(std::malloc(read.pixels.size()));
  if (!out->pixels) throw std::bad_alloc();
  std::memcpy(out->pixels, read.pixels.data(), read.pixels.size());
  return out.release();
}

}  // namespace

extern "C" {

void sdxl_engine_params_init(sdxl_engine_params* params) {
  if (!params) return;
  params->model_dir = nullptr;
  params->refiner_dir = nullptr;
  params->variant = nullptr;
  params->precision = "fp32";
  params->memory_policy = SDXL_MEMORY_KEEP_LOADED;
  params->taesd_dir = nullptr;
  params->taesd_encode = 0;
  params->config_dir = nullptr;
  params->refiner_config_dir = nullptr;
  params->lora_dir = nullptr;
  params->vae_path = nullptr;
}

sdxl_status sdxl_engine_load(const sdxl_engine_params* params, sdxl_engine** engine) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(params && engine, InvalidArgument, "[load] params and engine must not be NULL");
    *engine = nullptr;
    SDXL_CHECK(params->model_dir && *params->model_dir, InvalidArgument, "[load] no model folder given");
    const std::string precision = params->precision ? params->precision : "fp32";
    SDXL_CHECK(precision == "fp32" || precision == "bf16", InvalidArgument, "[load] precision '", precision,
               "' is not one of fp32, bf16");
    SDXL_CHECK(params->memory_policy == SDXL_MEMORY_KEEP_LOADED || params->memory_policy == SDXL_MEMORY_ONE_SHOT,
               InvalidArgument, "[load] unknown memory policy ", static_cast<int>(params->memory_policy));
    sdxl::pipeline::EngineOptions options;
    options.model = params->model_dir;
    if (params->refiner_dir) options.refiner = params->refiner_dir;
    options.variant = params->variant ? params->variant : "";
    options.precision = precision == "bf16" ? sdxl::ops::Precision::BF16 : sdxl::ops::Precision::F32;
    options.memory = params->memory_policy == SDXL_MEMORY_ONE_SHOT ? sdxl::pipeline::MemoryPolicy::OneShot
                                                                   : sdxl::pipeline::MemoryPolicy::KeepLoaded;
    if (params->taesd_dir && *params->taesd_dir) options.taesd = params->taesd_dir;
    SDXL_CHECK(!params->taesd_encode || !options.taesd.empty(), InvalidArgument, "[load] taesd_encode needs taesd_dir");
    options.taesd_encode = params->taesd_encode != 0;
    if (params->config_dir && *params->config_dir) options.config = params->config_dir;
    if (params->refiner_config_dir && *params->refiner_config_dir) options.refiner_config = params->refiner_config_dir;
    if (params->lora_dir && *params->lora_dir) options.lora_dir = params->lora_dir;
    if (params->vae_path && *params->vae_path) options.vae = params->vae_path;
    auto out = std::make_unique<sdxl_engine>();
    out->engine = sdxl::pipeline::Engine::load(options);
    *engine = out.release();
  });
}

void sdxl_engine_free(sdxl_engine* engine) {
  delete engine;
  sdxl::return_free_memory_to_system();  // gigabytes of weights: give them back, not to the allocator's pool
}

int sdxl_engine_is_refiner(const sdxl_engine* engine) { return engine && engine->engine->is_refiner() ? 1 : 0; }
int sdxl_engine_has_refiner(const sdxl_engine* engine) { return engine && engine->engine->has_refiner() ? 1 : 0; }

void sdxl_generate_params_init(sdxl_generate_params* p) {
  if (!p) return;
  std::memset(p, 0, sizeof *p);
  p->width = p->height = 1024;
  p->steps = 30;
  p->guidance_scale = 5.0;
  p->guidance_rescale = 0.0;
  p->clip_skip = -1;
  p->sampler = "euler";
  p->images_per_prompt = 1;
  p->strength = 0.3;
  p->aesthetic_score = 6.0;
  p->negative_aesthetic_score = 2.5;
  p->high_noise_frac = 0.8;
  p->refiner_strength = 0.3;
  p->decode = 1;
}

sdxl_status sdxl_engine_generate(sdxl_engine* engine, const sdxl_generate_params* params, sdxl_images** images) {
  if (engine && !engine->busy.try_lock()) {
    sdxl::capi::last_error() = "[engine] busy: this engine is running another generation";
    if (images) *images = nullptr;
    return SDXL_STATUS_BUSY;
  }
  std::unique_lock<std::mutex> held;
  if (engine) held = std::unique_lock<std::mutex>(engine->busy, std::adopt_lock);
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && params && images, InvalidArgument, "[generate] engine, params and images must not be NULL");
    *images = nullptr;
    *images = to_images(engine->engine->generate(to_request(*params, *engine->engine)));
  });
}

sdxl_status sdxl_engine_estimate_memory(const sdxl_engine* engine, const sdxl_generate_params* params,
                                        double* needed_gib, double* available_gib) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && params && needed_gib, InvalidArgument, "[memory] engine, params and needed_gib must not be NULL");
    const auto estimate = engine->engine->estimate_memory(to_request(*params, *engine->engine));
    *needed_gib = estimate.needed_gib();
    if (available_gib) *available_gib = estimate.available_gib;
  });
}

sdxl_status sdxl_engine_check(const sdxl_engine* engine, const sdxl_generate_params* params) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && params, InvalidArgument, "[generate] engine and params must not be NULL");
    engine->engine->check(to_request(*params, *engine->engine));
  });
}

sdxl_status sdxl_engine_capacity(const sdxl_engine* engine, char** json) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && json, InvalidArgument, "[capacity] engine and json must not be NULL");
    *json = sdxl::capi::copy_string(sdxl::pipeline::to_json(engine->engine->capacity()).dump());
  });
}

sdxl_status sdxl_check_capacity(const char* capacity_json, const sdxl_generate_params* params) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(capacity_json && params, InvalidArgument, "[capacity] capacity_json and params must not be NULL");
    const auto parsed = nlohmann::json::parse(capacity_json, nullptr, false);
    SDXL_CHECK(!parsed.is_discarded(), Format, "[capacity] not JSON");
    const sdxl::pipeline::EngineCapacity capacity = sdxl::pipeline::capacity_from_json(parsed);
    sdxl::pipeline::check_request(capacity, to_request(*params, nullptr, capacity.vae_scale, capacity.has_refiner));
  });
}

sdxl_status sdxl_engine_release_memory(sdxl_engine* engine) {
  if (!engine) {
    sdxl::capi::last_error() = "[memory] engine must not be NULL";
    return SDXL_STATUS_INVALID_ARGUMENT;
  }
  if (!engine->busy.try_lock()) {
    sdxl::capi::last_error() = "[engine] busy: this engine is running a generation";
    return SDXL_STATUS_BUSY;
  }
  std::lock_guard<std::mutex> held(engine->busy, std::adopt_lock);
  return sdxl::capi::guarded([&] { engine->engine->release_memory(); });
}

void sdxl_images_free(sdxl_images* images) { free_images(images); }

sdxl_status sdxl_read_image(const char* path, sdxl_image** image) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && image, InvalidArgument, "[image] path and image must not be NULL");
    *image = nullptr;
    *image = to_c_image(sdxl::io::read_image(path));
  });
}

void sdxl_image_free(sdxl_image* image) {
  if (!image) return;
  std::free(image->pixels);
  delete image;
}

sdxl_status sdxl_write_png(const char* path, const sdxl_images* images, int index, const char* parameters) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && images, InvalidArgument, "[png] path and images must not be NULL");
    sdxl::io::write_png(path, image_at(images, index), parameters_text(parameters));
  });
}

sdxl_status sdxl_write_image_png(const char* path, const unsigned char* pixels, int width, int height, int channels) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && pixels, InvalidArgument, "[png] path and pixels must not be NULL");
    sdxl::io::write_png(path, image_of(pixels, width, height, channels, "image"));
  });
}

sdxl_status sdxl_write_latents(const char* path, const sdxl_images* images) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && images && images->latents, InvalidArgument, "[latents] path and images must not be NULL");
    sdxl::Shape shape{images->count, images->latent_channels, images->latent_height, images->latent_width};
    sdxl::Tensor t = sdxl::Tensor::view(images->latents, shape, sdxl::DType::F32, nullptr);
    sdxl::io::write_safetensors(path, {{"latents", t}});
  });
}

}  // extern "C"

extern "C" {

void sdxl_convert_params_init(sdxl_convert_params* params) {
  if (params) std::memset(params, 0, sizeof *params);
}

sdxl_status sdxl_convert(const sdxl_convert_params* params) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(params && params->input && *params->input && params->output && *params->output, InvalidArgument,
               "[convert] input and output must be given");
    const std::string dtype = params->dtype ? params->dtype : "keep";
    std::optional<sdxl::DType> out;
    if (dtype == "fp32") out = sdxl::DType::F32;
    else if (dtype == "fp16") out = sdxl::DType::F16;
    else if (dtype == "bf16") out = sdxl::DType::BF16;
    else SDXL_CHECK(dtype == "keep", InvalidArgument, "[convert] dtype '", dtype, "' is not one of keep, fp32, fp16, bf16");
    const std::filesystem::path input = params->input;
    auto source = sdxl::pipeline::open_model_source(input, params->variant ? params->variant : "",
                                                    params->config_dir ? params->config_dir : "");
    source = sdxl::pipeline::with_loras(source, loras_of(params->loras, params->lora_count, "loras"));
    std::error_code ec;
    if (std::filesystem::is_directory(input, ec)) sdxl::pipeline::write_single_file(*source, params->output, out);
    else sdxl::pipeline::write_diffusers_folder(*source, params->output, out);
  });
}

}  // extern "C"

extern "C" {

sdxl_status sdxl_engine_infotext(const sdxl_engine* engine, const sdxl_generate_params* p, const sdxl_images* images,
                                 int index, char** text) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && p && images && text, InvalidArgument, "[infotext] engine, params, images and text must not be NULL");
    SDXL_CHECK(index >= 0 && index < images->count, InvalidArgument, "[infotext] image ", index, " of ", images->count);
    SDXL_CHECK(p->prompts && p->prompt_count > 0, InvalidArgument, "[infotext] no prompt");
    *text = nullptr;
    const auto& options = engine->engine->options();
    const int per_prompt = std::max(1, p->images_per_prompt);
    const int prompt = std::min(index / per_prompt, p->prompt_count - 1);
    sdxl::pipeline::InfotextFields f;
    f.prompt = p->prompts[prompt] ? p->prompts[prompt] : "";
    if (p->negative_prompt_count > 0 && p->negative_prompts) {
      const char* n = p->negative_prompts[p->negative_prompt_count == 1 ? 0 : std::min(prompt, p->negative_prompt_count - 1)];
      f.negative_prompt = n ? n : "";
    }
    if (p->prompt_2) f.prompt_2 = p->prompt_2;
    f.steps = p->steps;
    f.sampler = sdxl::pipeline::resolve_sampler(p->sampler ? p->sampler : "euler", p->scheduler ? p->scheduler : "",
                                                p->karras != 0)
                    .display();
    f.guidance = p->guidance_scale;
    f.guidance_rescale = p->guidance_rescale;
    f.seed = p->seed;
    f.width = images->width;
    f.height = images->height;
    f.model = options.model;
    f.vae = options.vae;
    if (p->init_image) f.denoising_strength = p->strength;
    f.inpaint = p->mask != nullptr;
    const auto refiner = refiner_settings(*p, engine->engine->has_refiner());
    if (refiner.mode != sdxl::pipeline::RefinerMode::None) {
      f.refiner = options.refiner;
      if (refiner.mode == sdxl::pipeline::RefinerMode::Ensemble) f.refiner_switch_at = refiner.high_noise_frac;
      else f.refiner_strength = refiner.strength;
    }
    if (p->clip_skip >= 0) f.clip_skip = p->clip_skip;
    f.precision = options.precision == sdxl::ops::Precision::BF16 ? "bf16" : "fp32";
    for (int i = 0; i < images->lora_count; ++i) f.loras.push_back({images->loras[i].path, images->loras[i].weight});
    f.version = sdxl_version();
    *text = sdxl::capi::copy_string(sdxl::pipeline::a1111_infotext(f));
  });
}

sdxl_status sdxl_decode_image(const unsigned char* bytes, size_t size, sdxl_image** image) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && image, InvalidArgument, "[image] bytes and image must not be NULL");
    *image = nullptr;
    *image = to_c_image(sdxl::io::decode_image(std::vector<uint8_t>(bytes, bytes + size), "the image data"));
  });
}

sdxl_status sdxl_decode_image_bounded(const unsigned char* bytes, size_t size, long long max_pixels, sdxl_image** image) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && image, InvalidArgument, "[image] bytes and image must not be NULL");
    SDXL_CHECK(max_pixels > 0, InvalidArgument, "[image] max_pixels must be positive, got ", max_pixels);
    *image = nullptr;
    *image = to_c_image(sdxl::io::decode_image(std::vector<uint8_t>(bytes, bytes + size), "the image data", max_pixels));
  });
}

sdxl_status sdxl_image_size(const unsigned char* bytes, size_t size, int* width, int* height) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && width && height, InvalidArgument, "[image] bytes, width and height must not be NULL");
    const sdxl::io::Image8 header = sdxl::io::image_header(std::vector<uint8_t>(bytes, bytes + size), "the image data");
    *width = static_cast<int>(header.width);
    *height = static_cast<int>(header.height);
  });
}

sdxl_status sdxl_encode_png(const sdxl_images* images, int index, const char* parameters, unsigned char** bytes,
                            size_t* size) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(images && bytes && size, InvalidArgument, "[png] images, bytes and size must not be NULL");
    *bytes = nullptr;
    *size = 0;
    sdxl::capi::copy_bytes(sdxl::io::encode_png(image_at(images, index), parameters_text(parameters)), bytes, size);
  });
}

sdxl_status sdxl_png_parameters(const unsigned char* bytes, size_t size, char** parameters) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(bytes && parameters, InvalidArgument, "[png] bytes and parameters must not be NULL");
    *parameters = nullptr;
    std::string found;
    for (const auto& [key, value] : sdxl::io::png_text_of(std::vector<uint8_t>(bytes, bytes + size), "the PNG data"))
      if (key == "parameters") found = value;
    *parameters = sdxl::capi::copy_string(found);
  });
}

void sdxl_free_bytes(unsigned char* bytes) { std::free(bytes); }

sdxl_status sdxl_encode_image_png(const unsigned char* pixels, int width, int height, int channels, unsigned char** bytes,
                                  size_t* size) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(pixels && bytes && size, InvalidArgument, "[png] pixels, bytes and size must not be NULL");
    *bytes = nullptr;
    *size = 0;
    sdxl::capi::copy_bytes(sdxl::io::encode_png(image_of(pixels, width, height, channels, "image")), bytes, size);
  });
}

}  // extern "C"

#include "capi/c_api_request.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <optional>

#include "capi/c_api_guard.h"
#include "capi/c_api_images.h"
#include "core/error.h"
#include "pipeline/stages/image_processor.h"
#include "pipeline/request/request_limits.h"
#include "pipeline/request/sampler_table.h"

namespace sdxl::capi {

namespace {

using sdxl::ErrorCode;
using sdxl::pipeline::PromptArg;
using sdxl::pipeline::SizeHW;
using Limits = sdxl::pipeline::RequestLimits;
static_assert(SDXL_MIN_SIDE == Limits::kMinSide && SDXL_MAX_SIDE == Limits::kMaxSide &&
                  SDXL_MAX_STEPS == Limits::kMaxSteps && SDXL_MAX_IMAGES == Limits::kMaxImages,
              "sdxl.h's limits are the pipeline's");

std::optional<SizeHW> size_or_none(int width, int height, const char* what, const char* parameter) {
  if (width == 0 && height == 0) return std::nullopt;
  SDXL_CHECK_PARAM(width > 0 && height > 0, InvalidArgument, parameter, "[generate] ", what, " must be positive, got ", width,
                   "x", height);
  return SizeHW{height, width};
}

void set_prompts(const sdxl_generate_params& p, sdxl::pipeline::PromptRequest& r) {
  SDXL_CHECK_PARAM(p.prompts && p.prompt_count > 0, InvalidArgument, "prompts", "[generate] no prompt given");
  std::vector<std::string> prompts;
  for (int i = 0; i < p.prompt_count; ++i) {
    SDXL_CHECK_PARAM(p.prompts[i], InvalidArgument, "prompts", "[generate] prompt ", i, " is NULL");
    prompts.emplace_back(p.prompts[i]);
  }
  r.prompt = prompts.size() == 1 ? PromptArg::text(prompts[0]) : PromptArg::list(prompts);
  if (p.negative_prompt_count > 0) {
    SDXL_CHECK_PARAM(p.negative_prompts, InvalidArgument, "negative_prompts", "[generate] negative_prompts is NULL");
    std::vector<std::string> negatives;
    for (int i = 0; i < p.negative_prompt_count; ++i) negatives.emplace_back(p.negative_prompts[i] ? p.negative_prompts[i] : "");
    SDXL_CHECK_PARAM(negatives.size() == 1 || negatives.size() == prompts.size(), InvalidArgument, "negative_prompts", "[generate] ",
               negatives.size(), " negative prompts for ", prompts.size(), " prompts: give one for all or one each");
    r.negative_prompt = negatives.size() == 1 ? PromptArg::text(negatives[0]) : PromptArg::list(negatives);
  }
  if (p.prompt_2) r.prompt_2 = PromptArg::text(p.prompt_2);
  if (p.negative_prompt_2) r.negative_prompt_2 = PromptArg::text(p.negative_prompt_2);
  r.num_images_per_prompt = p.images_per_prompt;
  SDXL_CHECK_PARAM(p.clip_skip >= -1 && p.clip_skip <= Limits::kMaxClipSkip, InvalidArgument, "clip_skip",
                   "[generate] clip_skip must be between 0 and ", Limits::kMaxClipSkip, " (-1: none), got ", p.clip_skip);
  if (p.clip_skip >= 0) r.clip_skip = p.clip_skip;
  r.syntax = prompt_syntax(p.prompt_syntax);
  if (p.embedding_dir && *p.embedding_dir) r.embedding_dir = p.embedding_dir;
}

// An image from the caller, with the member it came from named in its errors; a check takes its
// size and copies no pixel.
sdxl::io::Image8 image_param(const unsigned char* pixels, int width, int height, int channels, const char* what,
                             const char* parameter, Purpose purpose) {
  try {
    return purpose == Purpose::Run ? image_of(pixels, width, height, channels, what)
                                   : image_header(width, height, channels, what);
  } catch (const Error& e) {
    throw Error(e.code(), e.what(), parameter);
  }
}

// AUTOMATIC1111's inpainting options, checked; nullopt when none is asked for (diffusers' inpainting).
std::optional<sdxl::imaging::InpaintOptions> inpaint_options(const sdxl_generate_params& p) {
  using sdxl::imaging::MaskedContent;
  sdxl::imaging::InpaintOptions o;
  o.invert = p.mask_invert != 0;
  SDXL_CHECK_PARAM(p.mask_blur_x >= 0 && p.mask_blur_x <= 64 && p.mask_blur_y >= 0 && p.mask_blur_y <= 64, InvalidArgument,
                   p.mask_blur_x < 0 || p.mask_blur_x > 64 ? "mask_blur_x" : "mask_blur_y", "[generate] a mask blur is 0 to 64 pixels, got ",
                   p.mask_blur_x, " x ", p.mask_blur_y);
  o.blur_x = p.mask_blur_x;
  o.blur_y = p.mask_blur_y;
  o.only_masked = p.inpaint_only_masked != 0;
  SDXL_CHECK_PARAM(p.inpaint_padding >= 0 && p.inpaint_padding <= sdxl::io::kMaxImageSide, InvalidArgument, "inpaint_padding",
                   "[generate] inpaint_padding must be 0 to ", sdxl::io::kMaxImageSide, ", got ", p.inpaint_padding);
  o.padding = p.inpaint_padding;
  const std::string fill = p.inpaint_fill ? p.inpaint_fill : "original";
  if (fill == "original") o.content = MaskedContent::Original;
  else if (fill == "fill") o.content = MaskedContent::Fill;
  else if (fill == "latent_noise") o.content = MaskedContent::LatentNoise;
  else if (fill == "latent_nothing") o.content = MaskedContent::LatentNothing;
  else SDXL_CHECK_PARAM(false, InvalidArgument, "inpaint_fill", "[generate] inpaint_fill '", fill,
                        "' is not one of original, fill, latent_noise, latent_nothing");
  const bool any = o.invert || o.blur_x || o.blur_y || o.only_masked || o.content != MaskedContent::Original || p.inpaint_overlay;
  if (!any) return std::nullopt;
  SDXL_CHECK_PARAM(p.mask, InvalidArgument, o.only_masked ? "inpaint_only_masked" : "inpaint_fill",
                   "[generate] AUTOMATIC1111's inpainting options need a mask");
  return o;
}

// The init image and mask through diffusers' VaeImageProcessor (pipeline/image_processor.h),
// after AUTOMATIC1111's inpainting frame when asked for. A check takes only their sizes: it
// resizes nothing.
void set_images(const sdxl_generate_params& p, int64_t scale, Purpose purpose, sdxl::pipeline::EngineRequest& request) {
  sdxl::pipeline::GenerateRequest& r = request.generate;
  SDXL_CHECK_PARAM(std::isfinite(p.initial_noise_multiplier) && p.initial_noise_multiplier >= 0 && p.initial_noise_multiplier <= 10,
                   InvalidArgument, "initial_noise_multiplier", "[generate] initial_noise_multiplier must be 0 to 10, got ",
                   p.initial_noise_multiplier);
  if (p.initial_noise_multiplier != 0) r.initial_noise_multiplier = p.initial_noise_multiplier;
  const auto a1111 = inpaint_options(p);
  if (!p.init_image) {
    SDXL_CHECK_PARAM(!p.mask, InvalidArgument, "mask", "[generate] a mask needs an init image");
    return;
  }
  const auto image = image_param(p.init_image, p.init_width, p.init_height, p.init_channels, "init image", "init_image", purpose);
  const auto size = sdxl::pipeline::processed_size(image, p.fit_to_size ? p.width : 0, p.fit_to_size ? p.height : 0, scale);
  sdxl::pipeline::check_size(size.width, size.height, scale, "the size to generate (the init image's, rounded down)",
                             p.fit_to_size ? nullptr : "init_image");
  const bool check_only = purpose == Purpose::Check;
  r.width = size.width;
  r.height = size.height;
  if (a1111) r.masked_content = a1111->content;
  std::optional<sdxl::io::Image8> mask;
  if (p.mask) {
    SDXL_CHECK_PARAM(p.mask_width == p.init_width && p.mask_height == p.init_height, InvalidArgument, "mask",
                     "[generate] the mask is ", p.mask_width, "x", p.mask_height, " but the image is ", p.init_width, "x",
                     p.init_height);
    mask = image_param(p.mask, p.mask_width, p.mask_height, p.mask_channels, "mask", "mask", purpose);
  }
  if (a1111 && !check_only) {  // (inpaint_options made sure of a mask)
    auto frame = std::make_shared<sdxl::imaging::InpaintFrame>(
        sdxl::imaging::frame_inpainting(image, *mask, size.width, size.height, *a1111));
    r.init_image = sdxl::pipeline::preprocess_image(frame->image, size);
    r.mask = sdxl::pipeline::preprocess_mask(frame->mask, size);
    request.inpaint_overlay = p.inpaint_overlay != 0 || frame->only_masked;
    request.inpaint_frame = std::move(frame);
    request.inpaint_options = a1111;
    return;
  }
  // A check's tensors have the shapes and no contents (never read; the pages are never touched).
  r.init_image = check_only ? Tensor::empty({1, 3, size.height, size.width}, DType::F32)
                            : sdxl::pipeline::preprocess_image(image, size);
  if (mask) r.mask = check_only ? Tensor::empty({1, 1, size.height, size.width}, DType::F32) : sdxl::pipeline::preprocess_mask(*mask, size);
}

}  // namespace

sdxl::pipeline::RefinerSettings refiner_settings(const sdxl_generate_params& p, bool has_refiner) {
  sdxl::pipeline::RefinerSettings s;
  const std::string mode = p.refiner_mode ? p.refiner_mode : (has_refiner ? "ensemble" : "none");
  if (mode == "ensemble") s.mode = sdxl::pipeline::RefinerMode::Ensemble;
  else if (mode == "img2img") s.mode = sdxl::pipeline::RefinerMode::Img2Img;
  else SDXL_CHECK_PARAM(mode == "none", InvalidArgument, "refiner_mode", "[generate] refiner mode '", mode,
                        "' is not one of ensemble, img2img, none");
  s.high_noise_frac = p.high_noise_frac;
  s.strength = p.refiner_strength;
  if (p.has_refiner_seed) s.seed = p.refiner_seed;
  return s;
}

namespace {

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
    const int answer = callback(&out, user);
    return answer == 0 ? sdxl::pipeline::ProgressAnswer::Go
           : answer == SDXL_PROGRESS_FINISH ? sdxl::pipeline::ProgressAnswer::Finish
                                            : sdxl::pipeline::ProgressAnswer::Cancel;
  };
}

}  // namespace

std::vector<sdxl::lora::LoraSpec> loras_of(const sdxl_lora* loras, int count, const char* what) {
  SDXL_CHECK_PARAM(count >= 0 && count <= static_cast<int>(Limits::kMaxLoras) && (count == 0 || loras), InvalidArgument, what,
                   "[generate] ", what, ": ", count, " LoRAs (at most ", Limits::kMaxLoras, ", and not NULL)");
  std::vector<sdxl::lora::LoraSpec> out;
  for (int i = 0; i < count; ++i) {
    SDXL_CHECK_PARAM(loras[i].path && *loras[i].path, InvalidArgument, what, "[generate] ", what, "[", i, "].path is empty");
    SDXL_CHECK_PARAM(std::isfinite(loras[i].weight), InvalidArgument, what, "[generate] ", what, "[", i, "].weight is not finite");
    out.push_back({loras[i].path, loras[i].weight});
  }
  return out;
}

std::optional<sdxl::pipeline::HiresSpec> hires_spec(const sdxl_generate_params& p) {
  if (!p.hires) return std::nullopt;
  const sdxl_hires& h = *p.hires;
  sdxl::pipeline::HiresSpec spec;
  spec.scale = h.scale;
  spec.resize_x = h.resize_width;
  spec.resize_y = h.resize_height;
  spec.upscaler = h.upscaler ? h.upscaler : "Latent";
  if (h.upscaler_model && *h.upscaler_model) {
    spec.upscaler_model = h.upscaler_model;
    if (!h.upscaler || !*h.upscaler) spec.upscaler = spec.upscaler_model.stem().string();
  }
  spec.steps = h.steps;
  spec.denoising_strength = h.denoising_strength;
  if (h.sampler && *h.sampler) {
    const auto sampler = [&] {
      try {
        return sdxl::pipeline::resolve_sampler(h.sampler, h.scheduler ? h.scheduler : "", false);
      } catch (const sdxl::Error& e) {
        throw sdxl::Error(e.code(), e.what(), "hr_sampler_name");
      }
    }();
    spec.scheduler = sampler.entry->scheduler;
    spec.sampler_name = sampler.display();
    spec.scheduler_overrides = sampler.overrides();
    if (p.timestep_spacing) spec.scheduler_overrides["timestep_spacing"] = p.timestep_spacing;
  }
  if (h.prompt) spec.prompt = sdxl::pipeline::PromptArg::text(h.prompt);
  if (h.negative_prompt) spec.negative_prompt = sdxl::pipeline::PromptArg::text(h.negative_prompt);
  if (h.has_guidance_scale) spec.guidance_scale = h.guidance_scale;
  return spec;
}

sdxl::pipeline::EngineRequest to_request(const sdxl_generate_params& p, const sdxl::pipeline::Engine* engine,
                                         int64_t vae_scale, bool has_refiner, Purpose purpose) {
  sdxl::pipeline::EngineRequest request;
  sdxl::pipeline::GenerateRequest& r = request.generate;
  set_prompts(p, r.prompts);
  r.width = p.width;
  r.height = p.height;
  r.steps = p.steps;
  r.guidance.scale = p.guidance_scale;
  r.guidance.rescale = p.guidance_rescale;
  r.seed = p.seed;
  r.seeding = p.shared_generator ? sdxl::rng::BatchSeeding::Shared : sdxl::rng::BatchSeeding::PerImage;
  SDXL_CHECK_PARAM(std::isfinite(p.subseed_strength) && p.subseed_strength >= 0 && p.subseed_strength <= 1, InvalidArgument,
                   "subseed_strength", "[generate] subseed_strength must be in [0, 1], got ", p.subseed_strength);
  r.subseed = p.subseed;
  r.subseed_strength = p.subseed_strength;
  const int from_w = p.seed_resize_from_width, from_h = p.seed_resize_from_height;
  SDXL_CHECK_PARAM((from_w == 0) == (from_h == 0), InvalidArgument, from_w == 0 ? "seed_resize_from_width" : "seed_resize_from_height",
                   "[generate] seed_resize_from needs both a width and a height (or neither), got ", from_w, "x", from_h);
  for (const auto& [value, name] : {std::pair<int, const char*>{from_w, "seed_resize_from_width"}, {from_h, "seed_resize_from_height"}})
    SDXL_CHECK_PARAM(value == 0 || (value >= 8 && value <= SDXL_MAX_SIDE), InvalidArgument, name, "[generate] ", name,
                     " must be in [8, ", SDXL_MAX_SIDE, "] (0: none), got ", value);
  r.seed_resize_from_width = from_w;
  r.seed_resize_from_height = from_h;
  const auto sampler = sdxl::pipeline::resolve_sampler(p.sampler ? p.sampler : "euler", p.scheduler ? p.scheduler : "",
                                                       p.karras != 0);
  r.scheduler = sampler.entry->scheduler;
  r.sampler_name = sampler.display();
  r.scheduler_overrides = sampler.overrides();
  SDXL_CHECK_PARAM(std::isfinite(p.eta) && p.eta >= 0, InvalidArgument, "eta", "[generate] eta must be >= 0, got ", p.eta);
  if (p.eta != 0) {
    SDXL_CHECK_PARAM(r.scheduler == "DDIMScheduler", InvalidArgument, "eta", "[generate] eta is DDIM's; ", sampler.display(),
                     " takes none");
    r.scheduler_overrides["eta"] = p.eta;
  }
  SDXL_CHECK_PARAM(std::isfinite(p.ancestral_eta) && p.ancestral_eta >= 0, InvalidArgument, "ancestral_eta",
                   "[generate] ancestral_eta must be >= 0, got ", p.ancestral_eta);
  if (p.ancestral_eta != 1) {
    SDXL_CHECK_PARAM(r.scheduler == "EulerAncestralDiscreteScheduler", InvalidArgument, "ancestral_eta",
                     "[generate] ancestral_eta is Euler a's; ", sampler.display(), " takes none");
    r.scheduler_overrides["ancestral_eta"] = p.ancestral_eta;
  }
  if (p.timestep_spacing) {
    const std::string spacing = p.timestep_spacing;
    SDXL_CHECK_PARAM(spacing == "leading" || spacing == "linspace" || spacing == "trailing", InvalidArgument,
                     "timestep_spacing", "[generate] timestep spacing '", spacing, "' is not one of leading, linspace, trailing");
    r.scheduler_overrides["timestep_spacing"] = spacing;
  }
  r.original_size = size_or_none(p.original_width, p.original_height, "original size", "original_width");
  r.target_size = size_or_none(p.target_width, p.target_height, "target size", "target_width");
  r.negative_original_size =
      size_or_none(p.negative_original_width, p.negative_original_height, "negative original size", "negative_original_width");
  r.negative_target_size =
      size_or_none(p.negative_target_width, p.negative_target_height, "negative target size", "negative_target_width");
  r.crops_coords_top_left = {p.crop_top, p.crop_left};
  r.negative_crops_coords_top_left = {p.negative_crop_top, p.negative_crop_left};
  set_images(p, vae_scale, purpose, request);
  r.strength = p.strength;
  if (p.init_latents) {
    SDXL_CHECK_PARAM(p.init_latent_count > 0 && p.init_latent_channels > 0 && p.init_latent_height > 0 &&
                   p.init_latent_width > 0 && p.init_latent_height <= Limits::kMaxSide && p.init_latent_width <= Limits::kMaxSide &&
                   p.init_latent_count <= Limits::kMaxImages && p.init_latent_channels <= 16,
               InvalidArgument, "init_latents", "[generate] init latents of ", p.init_latent_count, "x", p.init_latent_channels, "x",
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
  request.controlnets = control_specs(p, purpose);
  request.ip_adapter = ip_adapter_spec(p, purpose);
  request.hires = hires_spec(p);
  r.guess_mode = p.guess_mode != 0;
  return request;
}

}  // namespace sdxl::capi

extern "C" void sdxl_hires_init(sdxl_hires* h) {
  if (!h) return;
  std::memset(h, 0, sizeof *h);
  h->scale = 2.0;
  h->upscaler = "Latent";
  h->denoising_strength = 0.7;
}

extern "C" void sdxl_generate_params_init(sdxl_generate_params* p) {
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
  p->ancestral_eta = 1.0;
}

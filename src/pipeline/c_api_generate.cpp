// The C API's generation entry points, over SdxlPipeline.
#include <cstdlib>
#include <cstring>
#include <new>

#include "core/error.h"
#include "core/log.h"
#include "core/memory.h"
#include "io/image_file.h"
#include "io/image_resize.h"
#include "io/png.h"
#include "io/safetensors.h"
#include "pipeline/c_api_guard.h"
#include "pipeline/sampler_names.h"
#include "pipeline/sdxl_pipeline.h"
#include "sdxl/sdxl.h"

struct sdxl_pipeline {
  sdxl::pipeline::SdxlPipeline pipeline;
};

namespace {

using sdxl::ErrorCode;
using sdxl::pipeline::PromptArg;
using sdxl::pipeline::SizeHW;

std::optional<SizeHW> size_or_none(int width, int height, const char* what) {
  if (width == 0 && height == 0) return std::nullopt;
  SDXL_CHECK(width > 0 && height > 0, InvalidArgument, "[generate] ", what, " must be positive, got ", width, "x", height);
  return SizeHW{height, width};
}

sdxl::pipeline::GenerateRequest to_request(const sdxl_generate_params& p) {
  SDXL_CHECK(p.prompts && p.prompt_count > 0, InvalidArgument, "[generate] no prompt given");
  sdxl::pipeline::GenerateRequest r;
  std::vector<std::string> prompts;
  for (int i = 0; i < p.prompt_count; ++i) {
    SDXL_CHECK(p.prompts[i], InvalidArgument, "[generate] prompt ", i, " is NULL");
    prompts.emplace_back(p.prompts[i]);
  }
  r.prompts.prompt = prompts.size() == 1 ? PromptArg::text(prompts[0]) : PromptArg::list(prompts);
  if (p.negative_prompt_count > 0) {
    std::vector<std::string> negatives;
    for (int i = 0; i < p.negative_prompt_count; ++i) negatives.emplace_back(p.negative_prompts[i] ? p.negative_prompts[i] : "");
    SDXL_CHECK(negatives.size() == 1 || negatives.size() == prompts.size(), InvalidArgument, "[generate] ",
               negatives.size(), " negative prompts for ", prompts.size(), " prompts: give one for all or one each");
    r.prompts.negative_prompt = negatives.size() == 1 ? PromptArg::text(negatives[0]) : PromptArg::list(negatives);
  }
  if (p.prompt_2) r.prompts.prompt_2 = PromptArg::text(p.prompt_2);
  if (p.negative_prompt_2) r.prompts.negative_prompt_2 = PromptArg::text(p.negative_prompt_2);
  SDXL_CHECK(p.images_per_prompt >= 1 && p.images_per_prompt <= 64, InvalidArgument,
             "[generate] images per prompt must be between 1 and 64, got ", p.images_per_prompt);
  r.prompts.num_images_per_prompt = p.images_per_prompt;
  if (p.clip_skip >= 0) r.prompts.clip_skip = p.clip_skip;
  if (!p.init_image && !p.init_latents)
    SDXL_CHECK(p.width >= 8 && p.height >= 8 && p.width <= 8192 && p.height <= 8192 && p.width % 8 == 0 && p.height % 8 == 0,
               InvalidArgument, "[generate] width and height must be multiples of 8 between 8 and 8192, got ", p.width,
               "x", p.height);
  r.width = p.width;
  r.height = p.height;
  SDXL_CHECK(p.steps >= 1 && p.steps <= 1000, InvalidArgument, "[generate] steps must be between 1 and 1000, got ",
             p.steps);
  r.steps = p.steps;
  r.guidance.scale = p.guidance_scale;
  r.guidance.rescale = p.guidance_rescale;
  r.seed = p.seed;
  auto sampler = sdxl::pipeline::sampler_choice(p.sampler ? p.sampler : "euler", p.karras != 0);
  r.scheduler = sampler.scheduler;
  r.scheduler_overrides = sampler.overrides;
  r.original_size = size_or_none(p.original_width, p.original_height, "original size");
  r.target_size = size_or_none(p.target_width, p.target_height, "target size");
  r.negative_original_size = size_or_none(p.negative_original_width, p.negative_original_height, "negative original size");
  r.negative_target_size = size_or_none(p.negative_target_width, p.negative_target_height, "negative target size");
  r.crops_coords_top_left = {p.crop_top, p.crop_left};
  r.negative_crops_coords_top_left = {p.negative_crop_top, p.negative_crop_left};
  if (p.init_image) {
    SDXL_CHECK(p.init_width > 0 && p.init_height > 0 && (p.init_channels == 1 || p.init_channels == 3 || p.init_channels == 4),
               InvalidArgument, "[generate] init image must be 1, 3 or 4 channels with a positive size");
    sdxl::io::Image8 image{p.init_width, p.init_height, p.init_channels,
                           std::vector<uint8_t>(p.init_image, p.init_image + static_cast<size_t>(p.init_width) * p.init_height * p.init_channels)};
    // VaeImageProcessor.preprocess: the size rounded down to a multiple of the VAE's scale, PIL's
    // Lanczos resize in the image's own mode, then convert("RGB").
    const int64_t width = sdxl::io::round_down_to_multiple(p.fit_to_size ? p.width : p.init_width, 8);
    const int64_t height = sdxl::io::round_down_to_multiple(p.fit_to_size ? p.height : p.init_height, 8);
    SDXL_CHECK(width >= 8 && height >= 8 && width <= 8192 && height <= 8192, InvalidArgument, "[generate] the init image is ",
               p.init_width, "x", p.init_height, "; the size to generate, ", width, "x", height,
               " (multiples of 8), must be between 8 and 8192");
    if (width != image.width || height != image.height)
      sdxl::log_info("[generate] resizing the init image from ", image.width, "x", image.height, " to ", width, "x", height);
    image = sdxl::io::to_rgb(sdxl::io::resize_lanczos(image, width, height));
    // PIL image / 255 as float32, NCHW
    r.init_image = sdxl::Tensor::empty(sdxl::Shape{1, 3, image.height, image.width}, sdxl::DType::F32);
    const int64_t plane = image.width * image.height;
    for (int64_t i = 0; i < plane; ++i)
      for (int c = 0; c < 3; ++c)
        r.init_image.data<float>()[c * plane + i] = static_cast<float>(image.pixels[static_cast<size_t>(i * 3 + c)]) / 255.0f;
    r.width = image.width;
    r.height = image.height;
  }
  r.strength = p.strength;
  if (p.mask) {
    SDXL_CHECK(p.init_image, InvalidArgument, "[generate] a mask needs an init image");
    SDXL_CHECK(p.mask_width == p.init_width && p.mask_height == p.init_height, InvalidArgument, "[generate] the mask is ",
               p.mask_width, "x", p.mask_height, " but the image is ", p.init_width, "x", p.init_height);
    sdxl::io::Image8 mask{p.mask_width, p.mask_height, p.mask_channels,
                          std::vector<uint8_t>(p.mask, p.mask + static_cast<size_t>(p.mask_width) * p.mask_height * p.mask_channels)};
    mask = sdxl::io::to_gray(sdxl::io::resize_lanczos(mask, r.init_image.dim(3), r.init_image.dim(2)));
    r.mask = sdxl::Tensor::empty(sdxl::Shape{1, 1, mask.height, mask.width}, sdxl::DType::F32);
    for (size_t i = 0; i < mask.pixels.size(); ++i) r.mask.data<float>()[i] = static_cast<float>(mask.pixels[i]) / 255.0f;
  }
  if (p.init_latents) {
    sdxl::Shape shape{p.init_latent_count, p.init_latent_channels, p.init_latent_height, p.init_latent_width};
    r.init_latents = sdxl::Tensor::empty(shape, sdxl::DType::F32);
    std::memcpy(r.init_latents.raw(), p.init_latents, r.init_latents.nbytes());
  }
  if (p.denoising_start > 0) r.denoising_start = p.denoising_start;
  if (p.denoising_end > 0) r.denoising_end = p.denoising_end;
  r.aesthetic_score = p.aesthetic_score;
  r.negative_aesthetic_score = p.negative_aesthetic_score;
  r.decode = p.decode != 0;
  r.vae_tiling = p.vae_tiling != 0;
  if (p.progress) {
    auto callback = p.progress;
    void* user = p.progress_user_data;
    r.on_step = [callback, user](int64_t step, int64_t total) {
      callback(static_cast<int>(step + 1), static_cast<int>(total), user);
    };
  }
  return r;
}

}  // namespace

extern "C" {

void sdxl_pipeline_params_init(sdxl_pipeline_params* params) {
  if (!params) return;
  params->model_dir = nullptr;
  params->variant = nullptr;
  params->release_text_encoders = 0;
  params->precision = "fp32";
}

sdxl_status sdxl_pipeline_load(const sdxl_pipeline_params* params, sdxl_pipeline** pipeline) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(params && pipeline, InvalidArgument, "[load] params and pipeline must not be NULL");
    SDXL_CHECK(params->model_dir && *params->model_dir, InvalidArgument, "[load] no model folder given");
    *pipeline = nullptr;
    const std::string precision = params->precision ? params->precision : "fp32";
    SDXL_CHECK(precision == "fp32" || precision == "bf16", InvalidArgument, "[load] precision '", precision,
               "' is not one of fp32, bf16");
    *pipeline = new sdxl_pipeline{sdxl::pipeline::SdxlPipeline::load(
        params->model_dir, params->variant ? params->variant : "",
        precision == "bf16" ? sdxl::ops::Precision::BF16 : sdxl::ops::Precision::F32,
        /*one_shot=*/params->release_text_encoders != 0)};
  });
}

void sdxl_pipeline_free(sdxl_pipeline* pipeline) {
  delete pipeline;
  sdxl::return_free_memory_to_system();  // gigabytes of weights: give them back, not to the allocator's pool
}

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
  p->decode = 1;
}

int sdxl_pipeline_is_refiner(const sdxl_pipeline* pipeline) { return pipeline && pipeline->pipeline.is_refiner() ? 1 : 0; }

sdxl_status sdxl_read_image(const char* path, sdxl_image** image) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && image, InvalidArgument, "[image] path and image must not be NULL");
    *image = nullptr;
    sdxl::io::Image8 read = sdxl::io::read_image(path);
    auto out = std::make_unique<sdxl_image>();
    out->width = static_cast<int>(read.width);
    out->height = static_cast<int>(read.height);
    out->channels = static_cast<int>(read.channels);
    out->pixels = static_cast<unsigned char*>(std::malloc(read.pixels.size()));
    if (!out->pixels) throw std::bad_alloc();
    std::memcpy(out->pixels, read.pixels.data(), read.pixels.size());
    *image = out.release();
  });
}

void sdxl_image_free(sdxl_image* image) {
  if (!image) return;
  std::free(image->pixels);
  delete image;
}

sdxl_status sdxl_generate(sdxl_pipeline* pipeline, const sdxl_generate_params* params, sdxl_images** images) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(pipeline && params && images, InvalidArgument, "[generate] pipeline, params and images must not be NULL");
    *images = nullptr;
    auto result = pipeline->pipeline.generate(to_request(*params));
    auto out = std::make_unique<sdxl_images>();
    std::memset(out.get(), 0, sizeof(sdxl_images));
    const sdxl::Tensor& img = result.images;
    std::vector<uint8_t> bytes(1, 0);
    out->count = static_cast<int>(result.latents.dim(0));
    if (img.defined()) {
      out->height = static_cast<int>(img.dim(1));
      out->width = static_cast<int>(img.dim(2));
      out->channels = static_cast<int>(img.dim(3));
      bytes = sdxl::pipeline::to_8bit(img);
    }
    out->pixels = static_cast<unsigned char*>(std::malloc(bytes.size()));
    const sdxl::Tensor& lat = result.latents;
    out->latent_channels = static_cast<int>(lat.dim(1));
    out->latent_height = static_cast<int>(lat.dim(2));
    out->latent_width = static_cast<int>(lat.dim(3));
    out->latents = static_cast<float*>(std::malloc(lat.nbytes()));
    if (!out->pixels || !out->latents) {
      std::free(out->pixels);
      std::free(out->latents);
      throw std::bad_alloc();
    }
    std::memcpy(out->pixels, bytes.data(), bytes.size());
    std::memcpy(out->latents, lat.raw(), lat.nbytes());
    *images = out.release();
  });
}

void sdxl_images_free(sdxl_images* images) {
  if (!images) return;
  std::free(images->pixels);
  std::free(images->latents);
  delete images;
}

sdxl_status sdxl_write_png(const char* path, const sdxl_images* images, int index, const char* parameters) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && images, InvalidArgument, "[png] path and images must not be NULL");
    SDXL_CHECK(index >= 0 && index < images->count, InvalidArgument, "[png] image ", index, " of ", images->count);
    sdxl::io::Image8 image;
    image.width = images->width;
    image.height = images->height;
    image.channels = images->channels;
    const size_t size = static_cast<size_t>(image.width * image.height * image.channels);
    image.pixels.assign(images->pixels + static_cast<size_t>(index) * size, images->pixels + static_cast<size_t>(index + 1) * size);
    std::vector<std::pair<std::string, std::string>> text;
    if (parameters) text.emplace_back("parameters", parameters);
    sdxl::io::write_png(path, image, text);
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

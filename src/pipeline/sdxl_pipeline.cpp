#include "pipeline/sdxl_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/log.h"
#include "core/memory.h"
#include "io/json_file.h"
#include "pipeline/component_loader.h"
#include "pipeline/conditioning.h"
#include "pipeline/scheduler_spec.h"

namespace sdxl::pipeline {
namespace {

bool valid_fraction(const std::optional<double>& v) { return v && *v > 0.0 && *v < 1.0; }

// diffusers' cut-off timestep for a denoising_start / denoising_end fraction.
double cutoff_timestep(double fraction, int64_t train_steps) {
  return static_cast<double>(std::llround(static_cast<double>(train_steps) - fraction * static_cast<double>(train_steps)));
}

// Repeats each [1, ...] entry up to `batch` rows (diffusers' torch.cat([x] * n)).
Tensor repeat_batch(const Tensor& t, int64_t batch) {
  if (t.dim(0) == batch) return t;
  SDXL_CHECK(batch % t.dim(0) == 0, InvalidArgument, "[pipeline] ", t.dim(0), " init images do not divide a batch of ",
             batch);
  Shape shape = t.shape();
  shape[0] = batch;
  Tensor out = Tensor::empty(shape, t.dtype());
  for (int64_t b = 0; b < batch / t.dim(0); ++b)
    std::memcpy(static_cast<uint8_t*>(out.raw()) + static_cast<size_t>(b) * t.nbytes(), t.raw(), t.nbytes());
  return out;
}

}  // namespace

SdxlPipeline SdxlPipeline::load(const std::filesystem::path& model_dir, const std::string& variant,
                                ops::Precision precision, bool one_shot) {
  SdxlPipeline p;
  p.precision_ = precision;
  p.folder_ = io::PipelineFolder::open(model_dir, variant);
  for (const char* needed : {"unet", "vae", "scheduler"})
    SDXL_CHECK(p.folder_.has(needed), Format, "[model] ", model_dir.string(), ": model_index.json has no ", needed);
  p.prompt_encoder_ = std::make_shared<PromptEncoder>(PromptEncoder::load(p.folder_, precision));
  p.release_text_encoders_ = one_shot;
  p.unet_config_ = io::load_unet_config(p.folder_.config_path("unet"));
  p.vae_config_ = io::load_vae_config(p.folder_.config_path("vae"));
  if (!one_shot) {
    p.unet();
    p.vae();
  }
  p.scheduler_config_ = io::read_json_object(p.folder_.config_path("scheduler"), "scheduler");
  p.projection_dim_ = io::load_clip_text_config(p.folder_.config_path("text_encoder_2")).projection_dim;
  return p;
}

models::AutoencoderKL& SdxlPipeline::vae() {
  if (!vae_) vae_ = std::make_shared<models::AutoencoderKL>(load_vae(folder_, "vae", precision_));
  return *vae_;
}

models::UNet2DConditionModel& SdxlPipeline::unet() {
  if (!unet_) unet_ = std::make_shared<models::UNet2DConditionModel>(load_unet(folder_, "unet", precision_));
  return *unet_;
}

// VAE encode of an image in [0, 1], a sample of the posterior from the generator, scaled.
Tensor SdxlPipeline::encode_image(const Tensor& image01, rng::TorchGenerator& generator) {
  Tensor image = image01.clone();
  for (int64_t i = 0; i < image.numel(); ++i) image.data<float>()[i] = 2.0f * image.data<float>()[i] - 1.0f;
  arena_->reset();
  auto posterior = vae().encode(*arena_, image);
  Tensor latents = Tensor::empty(posterior.mean.shape(), DType::F32);
  generator.randn(latents.data<float>(), latents.numel());
  const float sf = static_cast<float>(vae_config_.scaling_factor);
  for (int64_t i = 0; i < latents.numel(); ++i)
    latents.data<float>()[i] = sf * (posterior.mean.data<float>()[i] + posterior.std.data<float>()[i] * latents.data<float>()[i]);
  arena_->reset();
  return latents;
}

GenerateResult SdxlPipeline::generate(const GenerateRequest& r) {
  const int64_t scale = vae_config_.scale();
  const bool inpaint = r.mask.defined();
  const bool img2img = r.init_image.defined() || r.init_latents.defined();
  SDXL_CHECK(!inpaint || r.init_image.defined(), InvalidArgument, "[pipeline] a mask needs an init image");
  SDXL_CHECK(r.steps >= 1, InvalidArgument, "[pipeline] steps must be at least 1");
  SDXL_CHECK(std::isfinite(r.guidance.scale) && std::isfinite(r.guidance.rescale), InvalidArgument,
             "[pipeline] guidance must be a finite number");
  SDXL_CHECK(!img2img || (r.strength > 0.0 && r.strength <= 1.0), InvalidArgument,
             "[pipeline] strength must be in (0, 1], got ", r.strength);
  if (!img2img)
    SDXL_CHECK(r.width > 0 && r.height > 0 && r.width % scale == 0 && r.height % scale == 0, InvalidArgument,
               "[pipeline] width and height must be positive multiples of ", scale, ", got ", r.width, "x", r.height);
  if (r.init_image.defined())
    SDXL_CHECK(r.init_image.rank() == 4 && r.init_image.dim(1) == 3 && r.init_image.dim(2) % scale == 0 &&
                   r.init_image.dim(3) % scale == 0,
               InvalidArgument, "[pipeline] the init image must be [N, 3, H, W] with H and W multiples of ", scale,
               ", got ", r.init_image.shape().to_string());
  if (inpaint)
    SDXL_CHECK(r.mask.rank() == 4 && r.mask.dim(1) == 1 && r.mask.dim(2) == r.init_image.dim(2) &&
                   r.mask.dim(3) == r.init_image.dim(3),
               InvalidArgument, "[pipeline] the mask ", r.mask.shape().to_string(), " does not match the image ",
               r.init_image.shape().to_string());

  PromptRequest prompt_request = r.prompts;
  prompt_request.classifier_free_guidance = r.guidance.enabled();
  if (!prompt_encoder_) prompt_encoder_ = std::make_shared<PromptEncoder>(PromptEncoder::load(folder_, precision_));
  PromptEmbeddings emb = prompt_encoder_->encode(prompt_request);
  if (release_text_encoders_) {
    prompt_encoder_.reset();
    return_free_memory_to_system();
    log_info("[memory] text encoders freed: ", resident_gib(), " GiB resident");
  }
  const int64_t images = emb.prompt_embeds.dim(0);  // batch x num_images_per_prompt

  nlohmann::json config = scheduler_config_;
  for (auto it = r.scheduler_overrides.begin(); it != r.scheduler_overrides.end(); ++it) config[it.key()] = it.value();
  auto scheduler = samplers::make_scheduler(scheduler_spec(config, r.scheduler));
  scheduler->set_timesteps(r.steps);
  const int64_t train_steps = config.value("num_train_timesteps", 1000);
  std::vector<double> timesteps = scheduler->timesteps();

  rng::TorchGenerator generator(r.seed);
  samplers::NoiseFn noise_fn = [&generator](float* out, int64_t n) { generator.randn(out, n); };
  const int64_t channels = unet_config_.in_channels;
  Tensor latents, image_latents, noise, mask_latents;
  int64_t height = r.height, width = r.width;

  if (!img2img) {
    if (valid_fraction(r.denoising_end)) {  // the base's half of the ensemble of experts
      const double cutoff = cutoff_timestep(*r.denoising_end, train_steps);
      size_t keep = 0;
      for (double t : timesteps) keep += t >= cutoff;
      timesteps.resize(keep);
    }
    latents = generator.randn(Shape{images, channels, height / scale, width / scale});
    const float init_sigma = static_cast<float>(scheduler->init_noise_sigma());
    for (int64_t i = 0; i < latents.numel(); ++i) latents.data<float>()[i] *= init_sigma;
  } else {
    // diffusers' get_timesteps: strength cuts the schedule, or denoising_start picks its tail.
    if (r.denoising_start) {
      SDXL_CHECK(valid_fraction(r.denoising_start), InvalidArgument, "[pipeline] denoising_start must be in (0, 1)");
      const double cutoff = cutoff_timestep(*r.denoising_start, train_steps);
      size_t n = 0;
      for (double t : timesteps) n += t < cutoff;
      if (scheduler->order() == 2 && n % 2 == 0) ++n;  // keep the second-order pairs whole
      n = std::min(n, timesteps.size());
      timesteps.erase(timesteps.begin(), timesteps.end() - static_cast<std::ptrdiff_t>(n));
    } else {
      const int64_t init_timestep = std::min<int64_t>(static_cast<int64_t>(static_cast<double>(r.steps) * r.strength), r.steps);
      const int64_t t_start = std::max<int64_t>(r.steps - init_timestep, 0);
      timesteps.erase(timesteps.begin(), timesteps.begin() + std::min<int64_t>(t_start * scheduler->order(),
                                                                               static_cast<int64_t>(timesteps.size())));
    }
    SDXL_CHECK(!timesteps.empty(), InvalidArgument, "[pipeline] strength ", r.strength, " with ", r.steps,
               " steps leaves no denoising step; raise --strength or --steps");
    const double first_t = timesteps.front();
    const bool strength_max = r.strength == 1.0;
    if (r.init_latents.defined()) {
      image_latents = repeat_batch(r.init_latents, images);
    } else if (!inpaint || !strength_max || channels == 4) {
      image_latents = repeat_batch(encode_image(r.init_image, generator), images);
    }
    const Shape shape = image_latents.defined() ? image_latents.shape()
                                                : Shape{images, channels, r.init_image.dim(2) / scale, r.init_image.dim(3) / scale};
    if (!r.denoising_start) {
      noise = generator.randn(shape);
      if (inpaint && strength_max) {
        latents = noise.clone();
        const float init_sigma = static_cast<float>(scheduler->init_noise_sigma());
        for (int64_t i = 0; i < latents.numel(); ++i) latents.data<float>()[i] *= init_sigma;
      } else {
        latents = scheduler->add_noise(image_latents, noise, first_t);
      }
    } else {
      latents = image_latents.clone();
      if (inpaint) noise = generator.randn(shape);
    }
    if (inpaint) {
      // Binarised mask, nearest-resized to the latents; the masked image is VAE-encoded as diffusers
      // does (its generator draw keeps the random stream aligned, though a 4-channel UNet ignores it).
      const int64_t H = r.mask.dim(2), W = r.mask.dim(3), h = shape[2], w = shape[3];
      mask_latents = Tensor::empty(Shape{images, 1, h, w}, DType::F32);
      for (int64_t n = 0; n < images; ++n)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t x = 0; x < w; ++x) {
            const int64_t sy = static_cast<int64_t>(static_cast<float>(y) * (static_cast<float>(H) / static_cast<float>(h)));
            const int64_t sx = static_cast<int64_t>(static_cast<float>(x) * (static_cast<float>(W) / static_cast<float>(w)));
            const float m = r.mask.data<float>()[(n % r.mask.dim(0)) * H * W + sy * W + sx];
            mask_latents.data<float>()[(n * h + y) * w + x] = m < 0.5f ? 0.0f : 1.0f;
          }
      Tensor masked = r.init_image.clone();
      const int64_t plane = H * W;
      for (int64_t n = 0; n < masked.dim(0); ++n)
        for (int64_t c = 0; c < 3; ++c)
          for (int64_t i = 0; i < plane; ++i) {
            const float m = r.mask.data<float>()[(n % r.mask.dim(0)) * plane + i] < 0.5f ? 0.0f : 1.0f;
            // init_image is normalised to [-1, 1] before masking: (2x - 1) * (mask < 0.5)
            float& v = masked.data<float>()[(n * 3 + c) * plane + i];
            v = m < 0.5f ? v : 0.5f;  // 0.5 in [0, 1] is 0 after normalisation
          }
      (void)encode_image(masked, generator);
    }
    height = latents.dim(2) * scale;
    width = latents.dim(3) * scale;
  }

  const bool guidance = r.guidance.enabled();
  const TimeIdsLayout layout = img2img ? TimeIdsLayout::Img2Img : TimeIdsLayout::Txt2Img;
  const TimeIds ids = make_time_ids(r, height, width, is_refiner(), layout);
  const auto& u = unet_config_;
  const int64_t passed = u.addition_time_embed_dim * static_cast<int64_t>(ids.positive.size()) + projection_dim_;
  SDXL_CHECK(passed == u.projection_class_embeddings_input_dim, InvalidArgument, "[pipeline] the UNet expects ",
             u.projection_class_embeddings_input_dim, " added-embedding values but the time ids and pooled text give ",
             passed, is_refiner() ? "" : " (a refiner UNet needs requires_aesthetics_score in model_index.json)");
  Conditioning cond = make_conditioning(emb, ids, guidance, layout);

  LatentsHook blend;
  if (inpaint) {
    blend = [&](size_t i, Tensor& x) {
      // Outside the mask the image's own latents, noised to the next timestep, are put back.
      Tensor proper = i + 1 < timesteps.size() ? scheduler->add_noise(image_latents, noise, timesteps[i + 1]) : image_latents;
      const int64_t plane = x.dim(2) * x.dim(3), c = x.dim(1);
      for (int64_t n = 0; n < x.dim(0); ++n)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t k = 0; k < plane; ++k) {
            const float m = mask_latents.data<float>()[n * plane + k];
            float& v = x.data<float>()[(n * c + ch) * plane + k];
            v = (1.0f - m) * proper.data<float>()[(n * c + ch) * plane + k] + m * v;
          }
    };
  }
  log_info("[pipeline] ", images, " image(s) ", width, "x", height, ", ", timesteps.size(), " steps, guidance ",
           r.guidance.scale, ", seed ", r.seed);
  if (release_text_encoders_ && vae_) {
    vae_.reset();  // used for the init image; loaded again for the decode
    return_free_memory_to_system();
  }
  denoise(unet(), *scheduler, timesteps, cond, r.guidance, latents, noise_fn, *arena_, r.on_step, blend);

  if (release_text_encoders_) {
    // One-shot: the UNet and its activations leave before the VAE decode needs its own
    // (a full-resolution decode is the other memory peak); the next call loads it again.
    unet_.reset();
    arena_ = std::make_unique<Arena>();
    return_free_memory_to_system();
    log_info("[memory] UNet freed before the VAE decode: ", resident_gib(), " GiB resident");
  }

  GenerateResult result;
  result.latents = latents.clone();
  if (!r.decode) return result;
  // decode(latents / scaling_factor); image = clamp(x / 2 + 0.5, 0, 1), channels-last
  Tensor scaled = latents.clone();
  const float sf = static_cast<float>(vae_config_.scaling_factor);
  for (int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] /= sf;
  arena_->reset();
  // [N, 3, H, W]; in bands: the same image in about a quarter of the memory
  Tensor decoded = r.vae_tiling ? vae().decode_in_bands(*arena_, scaled) : vae().decode(*arena_, scaled);
  const int64_t h = decoded.dim(2), w = decoded.dim(3), c = decoded.dim(1);
  result.images = Tensor::empty(Shape{images, h, w, c}, DType::F32);
  for (int64_t n = 0; n < images; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < h * w; ++i) {
        const float v = decoded.data<float>()[(n * c + ch) * h * w + i] / 2.0f + 0.5f;
        result.images.data<float>()[(n * h * w + i) * c + ch] = std::clamp(v, 0.0f, 1.0f);
      }
  arena_->reset();
  return result;
}

std::vector<uint8_t> to_8bit(const Tensor& images) {
  std::vector<uint8_t> out(static_cast<size_t>(images.numel()));
  for (int64_t i = 0; i < images.numel(); ++i)
    out[static_cast<size_t>(i)] = static_cast<uint8_t>(std::nearbyint(images.data<float>()[i] * 255.0f));
  return out;
}

}  // namespace sdxl::pipeline

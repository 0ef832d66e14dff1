#include "pipeline/sdxl_pipeline.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/log.h"
#include "io/json_file.h"
#include "pipeline/component_loader.h"
#include "pipeline/scheduler_spec.h"
#include "rng/torch_generator.h"

namespace sdxl::pipeline {

SdxlPipeline SdxlPipeline::load(const std::filesystem::path& model_dir, const std::string& variant) {
  SdxlPipeline p;
  p.folder_ = io::PipelineFolder::open(model_dir, variant);
  for (const char* needed : {"unet", "vae", "scheduler"})
    SDXL_CHECK(p.folder_.has(needed), Format, "[model] ", model_dir.string(), ": model_index.json has no ", needed);
  p.prompt_encoder_ = std::make_shared<PromptEncoder>(PromptEncoder::load(p.folder_));
  p.unet_ = std::make_shared<models::UNet2DConditionModel>(load_unet(p.folder_));
  p.vae_ = std::make_shared<models::AutoencoderKL>(load_vae(p.folder_));
  p.scheduler_config_ = io::read_json_object(p.folder_.config_path("scheduler"), "scheduler");
  p.projection_dim_ = io::load_clip_text_config(p.folder_.config_path("text_encoder_2")).projection_dim;
  return p;
}

// diffusers' _get_add_time_ids: (original h, w) + (crop top, left) + (target h, w).
Tensor SdxlPipeline::time_ids_for(const GenerateRequest& r, bool negative) const {
  const SizeHW target_default{r.height, r.width};
  const SizeHW original = negative ? *r.negative_original_size : r.original_size.value_or(target_default);
  const SizeHW target = negative ? *r.negative_target_size : r.target_size.value_or(target_default);
  const auto crop = negative ? r.negative_crops_coords_top_left : r.crops_coords_top_left;
  Tensor ids = Tensor::empty(Shape{1, 6}, DType::F32);
  const float values[6] = {static_cast<float>(original.height), static_cast<float>(original.width),
                           static_cast<float>(crop.first),      static_cast<float>(crop.second),
                           static_cast<float>(target.height),   static_cast<float>(target.width)};
  std::memcpy(ids.raw(), values, sizeof values);
  const auto& u = unet_->config();
  const int64_t expected = u.projection_class_embeddings_input_dim;
  const int64_t passed = u.addition_time_embed_dim * 6 + projection_dim_;
  SDXL_CHECK(passed == expected, InvalidArgument, "[pipeline] the UNet expects an added embedding of ", expected,
             " values but six time ids and the pooled text give ", passed,
             "; is this a refiner (which takes an aesthetic score instead)?");
  return ids;
}

GenerateResult SdxlPipeline::generate(const GenerateRequest& r) {
  const int64_t scale = vae_->scale();
  SDXL_CHECK(r.width > 0 && r.height > 0 && r.width % scale == 0 && r.height % scale == 0, InvalidArgument,
             "[pipeline] width and height must be positive multiples of ", scale, ", got ", r.width, "x", r.height);
  SDXL_CHECK(r.steps >= 1, InvalidArgument, "[pipeline] steps must be at least 1");
  SDXL_CHECK(std::isfinite(r.guidance.scale) && std::isfinite(r.guidance.rescale), InvalidArgument,
             "[pipeline] guidance must be a finite number");

  PromptRequest prompt_request = r.prompts;
  prompt_request.classifier_free_guidance = r.guidance.enabled();
  PromptEmbeddings emb = prompt_encoder_->encode(prompt_request);
  const int64_t images = emb.prompt_embeds.dim(0);  // batch x num_images_per_prompt

  // The scheduler: the model's own config, another class on top of it (from_config), overrides.
  nlohmann::json config = scheduler_config_;
  for (auto it = r.scheduler_overrides.begin(); it != r.scheduler_overrides.end(); ++it) config[it.key()] = it.value();
  auto scheduler = samplers::make_scheduler(scheduler_spec(config, r.scheduler));
  scheduler->set_timesteps(r.steps);

  rng::TorchGenerator generator(r.seed);
  samplers::NoiseFn noise = [&generator](float* out, int64_t n) { generator.randn(out, n); };
  const int64_t channels = unet_->config().in_channels;
  Tensor latents = generator.randn(Shape{images, channels, r.height / scale, r.width / scale});
  const float init_sigma = static_cast<float>(scheduler->init_noise_sigma());
  for (int64_t i = 0; i < latents.numel(); ++i) latents.data<float>()[i] *= init_sigma;

  // Conditioning, [negative; positive] under guidance. diffusers concatenates the time ids as
  // [negative, positive] and then repeats that pair per image, so they interleave while the
  // embeddings are blocked; reproduced as is.
  const bool cfg = r.guidance.enabled();
  const int64_t rows = cfg ? 2 * images : images;
  Conditioning cond;
  const int64_t d = emb.prompt_embeds.dim(2), p = emb.pooled_prompt_embeds.dim(1);
  cond.context = Tensor::empty(Shape{rows, emb.prompt_embeds.dim(1), d}, DType::F32);
  cond.text_embeds = Tensor::empty(Shape{rows, p}, DType::F32);
  cond.time_ids = Tensor::empty(Shape{rows, 6}, DType::F32);
  auto place = [](Tensor& dst, int64_t at, const Tensor& src) {
    std::memcpy(static_cast<uint8_t*>(dst.raw()) + static_cast<size_t>(at) * (dst.nbytes() / static_cast<size_t>(dst.dim(0))),
                src.raw(), src.nbytes());
  };
  if (cfg) {
    place(cond.context, 0, emb.negative_prompt_embeds);
    place(cond.context, images, emb.prompt_embeds);
    place(cond.text_embeds, 0, emb.negative_pooled_prompt_embeds);
    place(cond.text_embeds, images, emb.pooled_prompt_embeds);
  } else {
    place(cond.context, 0, emb.prompt_embeds);
    place(cond.text_embeds, 0, emb.pooled_prompt_embeds);
  }
  const Tensor positive_ids = time_ids_for(r, false);
  const bool own_negative = r.negative_original_size.has_value() && r.negative_target_size.has_value();
  const Tensor negative_ids = own_negative ? time_ids_for(r, true) : positive_ids;
  for (int64_t row = 0; row < rows; ++row) {
    const Tensor& ids = cfg ? (row % 2 == 0 ? negative_ids : positive_ids) : positive_ids;
    place(cond.time_ids, row, ids);
  }

  log_info("[pipeline] ", images, " image(s) ", r.width, "x", r.height, ", ", r.steps, " steps, guidance ",
           r.guidance.scale, ", seed ", r.seed);
  denoise(*unet_, *scheduler, scheduler->timesteps(), cond, r.guidance, latents, noise, *arena_, r.on_step);

  GenerateResult result;
  result.latents = latents.clone();
  if (!r.decode) return result;
  // decode(latents / scaling_factor); image = clamp(x / 2 + 0.5, 0, 1), channels-last
  Tensor scaled = latents.clone();
  const float sf = static_cast<float>(vae_->config().scaling_factor);
  for (int64_t i = 0; i < scaled.numel(); ++i) scaled.data<float>()[i] /= sf;
  arena_->reset();
  Tensor decoded = vae_->decode(*arena_, scaled);  // [N, 3, H, W]
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

#include "pipeline/stages/denoiser.h"

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace sdxl::pipeline {
namespace {

// torch.std (unbiased) of n values
double unbiased_std(const float* x, int64_t n) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  return std::sqrt(sq / static_cast<double>(n - 1));
}

}  // namespace

Tensor guidance_scale_embedding(double guidance_scale, int64_t dim, int64_t rows) {
  SDXL_CHECK(dim >= 2, InvalidArgument, "[unet] a guidance embedding needs at least 2 dimensions, got ", dim);
  const int64_t half = dim / 2;
  const float w = static_cast<float>(guidance_scale - 1.0) * 1000.0f;
  const float step = std::log(10000.0f) / static_cast<float>(half - 1 > 0 ? half - 1 : 1);
  Tensor out = Tensor::zeros(Shape{rows, dim}, DType::F32);  // an odd dim keeps a zero last column
  for (int64_t r = 0; r < rows; ++r) {
    float* row = out.data<float>() + r * dim;
    for (int64_t k = 0; k < half; ++k) {
      const float arg = w * std::exp(static_cast<float>(k) * -step);
      row[k] = std::sin(arg);
      row[half + k] = std::cos(arg);
    }
  }
  return out;
}

void rescale_noise_cfg(float* cfg, const float* text, int64_t batch, int64_t per_sample, double rescale) {
  for (int64_t b = 0; b < batch; ++b) {
    float* c = cfg + b * per_sample;
    const float ratio = static_cast<float>(unbiased_std(text + b * per_sample, per_sample)) /
                        static_cast<float>(unbiased_std(c, per_sample));
    const float keep = static_cast<float>(rescale), mix = static_cast<float>(1.0 - rescale);
    for (int64_t i = 0; i < per_sample; ++i) c[i] = keep * (c[i] * ratio) + mix * c[i];
  }
}

void denoise(const models::UNet2DConditionModel& unet, samplers::Scheduler& scheduler,
             const std::vector<double>& timesteps, const Conditioning& cond, const GuidanceSettings& guidance,
             Tensor& latents, const samplers::NoiseFn& noise, Arena& arena, const LatentsHook& after_step,
             const ControlFn& control) {
  const int64_t batch = latents.dim(0);
  const int64_t per_sample = latents.numel() / batch;
  const bool cfg = guidance.enabled();
  const int64_t model_batch = cfg ? 2 * batch : batch;
  SDXL_CHECK(cond.context.dim(0) == model_batch, Internal, "[denoise] conditioning batch ", cond.context.dim(0),
             " does not match ", model_batch);
  Shape model_shape = latents.shape();
  model_shape[0] = model_batch;
  Tensor model_input = Tensor::empty(model_shape, DType::F32);
  Tensor noise_pred = Tensor::empty(latents.shape(), DType::F32);
  const float scale = static_cast<float>(guidance.scale);

  for (size_t i = 0; i < timesteps.size(); ++i) {
    const double t = timesteps[i];
    Tensor scaled = scheduler.scale_model_input(latents, t);  // [B, C, h, w]
    for (int64_t copy = 0; copy < (cfg ? 2 : 1); ++copy)
      std::memcpy(model_input.data<float>() + copy * latents.numel(), scaled.raw(), scaled.nbytes());
    arena.reset();
    const models::ControlResiduals* residuals = control ? control(arena, i, model_input, static_cast<float>(t)) : nullptr;
    Tensor out = unet.forward(arena, model_input, static_cast<float>(t), cond.context, cond.text_embeds, cond.time_ids,
                              cond.timestep_cond, residuals);
    if (cfg) {
      const float* uncond = out.data<float>();
      const float* text = uncond + latents.numel();
      float* guided = noise_pred.data<float>();
      for (int64_t k = 0; k < latents.numel(); ++k) guided[k] = uncond[k] + scale * (text[k] - uncond[k]);
      if (guidance.rescale > 0.0) rescale_noise_cfg(guided, text, batch, per_sample, guidance.rescale);
    } else {
      std::memcpy(noise_pred.raw(), out.raw(), noise_pred.nbytes());
    }
    latents = scheduler.step(noise_pred, t, latents, noise);
    if (after_step && !after_step(i, latents)) return;
  }
}

}  // namespace sdxl::pipeline

// The engine's hires fix (pipeline/request/hires_spec.h): the first pass, the upscale, and the
// second pass as img2img on the base at the larger size.
#include <cstring>

#include "core/error.h"
#include "core/log.h"
#include "io/image_resize.h"
#include "pipeline/engine.h"
#include "pipeline/sources/upscaler_source.h"
#include "pipeline/stages/hires_upscale.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl::pipeline {
namespace {

// Image i's prompt of a batch of prompts x `per_prompt` images.
PromptArg prompt_of_image(const PromptArg& arg, int64_t i, int64_t per_prompt) {
  if (arg.is_none() || !arg.is_list()) return arg;
  return PromptArg::text(arg.for_batch(arg.size(), "prompt").at(static_cast<size_t>(i / per_prompt)));
}

// Tensors of the same shape but the first axis, one after another along it.
Tensor stack_batches(const std::vector<Tensor>& parts) {
  Shape shape = parts.at(0).shape();
  int64_t rows = 0;
  for (const Tensor& p : parts) rows += p.dim(0);
  shape[0] = rows;
  Tensor out = Tensor::empty(shape, parts[0].dtype());
  size_t at = 0;
  for (const Tensor& p : parts) {
    std::memcpy(static_cast<uint8_t*>(out.raw()) + at, p.raw(), p.nbytes());
    at += p.nbytes();
  }
  return out;
}

io::Image8 image_of_batch(const Tensor& images, int64_t i) {
  const int64_t h = images.dim(1), w = images.dim(2);
  Tensor one = Tensor::empty(Shape{1, h, w, 3}, DType::F32);
  std::memcpy(one.raw(), images.data<float>() + i * h * w * 3, one.nbytes());
  return io::Image8{w, h, 3, to_8bit(one)};
}

}  // namespace

GenerateRequest Engine::hires_request(const GenerateRequest& first, const HiresSpec& spec) const {
  const HiresPlan plan = hires_plan(spec, first.width, first.height);
  GenerateRequest r = first;
  r.width = plan.width();
  r.height = plan.height();
  r.steps = spec.steps > 0 ? spec.steps : first.steps;
  r.strength = spec.denoising_strength;
  if (!spec.scheduler.empty()) {
    r.scheduler = spec.scheduler;
    r.sampler_name = spec.sampler_name;
    r.scheduler_overrides = spec.scheduler_overrides;
  }
  if (spec.prompt) {
    r.prompts.prompt = *spec.prompt;
    r.prompts.prompt_2 = PromptArg();
  }
  if (spec.negative_prompt) {
    r.prompts.negative_prompt = *spec.negative_prompt;
    r.prompts.negative_prompt_2 = PromptArg();
  }
  if (spec.guidance_scale) r.guidance.scale = *spec.guidance_scale;
  r.stage = "hires";
  return r;
}

std::shared_ptr<const models::RrdbNet> Engine::upscaler(const std::filesystem::path& file) {
  const std::string key = file.string();
  auto found = upscalers_.find(key);
  if (found != upscalers_.end()) return found->second;
  auto net = load_upscaler(file, options_.precision);
  if (!one_shot_memory()) {
    upscalers_.clear();  // the last one used stays warm
    upscalers_[key] = net;
  }
  return net;
}

EngineResult Engine::generate_hires(const EngineRequest& request, const Checked& checked) {
  const HiresSpec& spec = *request.hires;
  const GenerateRequest& r = checked.generate;
  EngineResult result;
  result.loras = checked.loras;
  GenerateRequest first = r;
  first.decode = false;
  const GenerateResult first_pass = base().generate(first);
  result.first_pass_latents = first_pass.latents;
  if (first_pass.finished_early) {  // told to finish: the first pass's images, no second pass
    result.final = first_pass;
    if (r.decode) result.final.images = base().decode(r, first_pass.latents);
    return result;
  }
  const HiresPlan plan = hires_plan(spec, r.width, r.height);
  const GenerateRequest second = hires_request(r, spec);
  if (const auto mode = latent_upscale_mode(spec.effective_upscaler())) {
    GenerateRequest all = second;
    all.prompts = prompts_per_image(second.prompts);  // the latents hold every image
    all.init_latents = upscale_latents(first_pass.latents, plan.upscale_width, plan.upscale_height, *mode, plan.truncate_x,
                                       plan.truncate_y);
    result.final = base().generate(all);
  } else {
    // Pixel upscalers work image by image: each decoded to 8 bits, upscaled, and denoised again
    // with its own seed (as the batch's image i has seed + i).
    const Tensor images = base().decode(r, first_pass.latents);
    const auto net = spec.upscaler_model.empty() ? nullptr : upscaler(spec.upscaler_model);
    std::vector<Tensor> latents, finals;
    StageSeconds seconds;
    const int64_t per_prompt = r.prompts.num_images_per_prompt;
    for (int64_t i = 0; i < images.dim(0); ++i) {
      io::Image8 up = upscale_pixels(image_of_batch(images, i), plan.upscale_width, plan.upscale_height, spec.effective_upscaler(),
                                     net.get());
      up = truncate_image(up, plan.truncate_x, plan.truncate_y);
      if (up.width != plan.width() || up.height != plan.height()) up = io::resize_lanczos(up, plan.width(), plan.height());
      GenerateRequest one = second;
      one.prompts.num_images_per_prompt = 1;
      for (PromptArg* p : {&one.prompts.prompt, &one.prompts.prompt_2, &one.prompts.negative_prompt, &one.prompts.negative_prompt_2})
        *p = prompt_of_image(*p, i, per_prompt);
      if (r.seeding == rng::BatchSeeding::PerImage) {
        one.seed = r.seed + static_cast<uint64_t>(i);
        if (r.subseed_strength > 0) one.subseed = r.subseed + static_cast<uint64_t>(i);
      }
      one.init_image = image_tensor(up);
      const GenerateResult done = base().generate(one);
      latents.push_back(done.latents);
      if (done.images.defined()) finals.push_back(done.images);
      seconds.text += done.seconds.text;
      seconds.denoise += done.seconds.denoise;
      seconds.decode += done.seconds.decode;
      result.final.finished_early = result.final.finished_early || done.finished_early;
    }
    result.final.latents = stack_batches(latents);
    if (!finals.empty()) result.final.images = stack_batches(finals);
    result.final.seconds = seconds;
  }
  result.final.seconds.text += first_pass.seconds.text;
  result.final.seconds.denoise += first_pass.seconds.denoise;
  return result;
}

}  // namespace sdxl::pipeline

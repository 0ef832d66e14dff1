#include "server/generation_spec.h"

#include <random>

#include "server/base64.h"
#include "server/request_fields.h"

namespace sdxl::server {

ImageHandle decode_image_field(const std::string& base64, const char* field) {
  const auto bytes = base64_decode(base64);
  if (!bytes || bytes->empty()) throw RequestError(422, field, std::string(field) + ": not base64 image data");
  sdxl_image* image = nullptr;
  if (sdxl_decode_image(reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(), &image) != SDXL_STATUS_OK)
    throw RequestError(422, field, std::string(field) + ": " + sdxl_last_error());
  return ImageHandle(image, sdxl_image_free);
}

void make_call(const GenerationSpec& s, int repeat, GenerateCall& c) {
  sdxl_generate_params_init(&c.params);
  c.prompts.clear();
  c.negatives.clear();
  c.loras.clear();
  for (const auto& p : s.prompts) c.prompts.push_back(p.c_str());
  for (const auto& n : s.negative_prompts) c.negatives.push_back(n.c_str());
  for (const auto& [path, weight] : s.loras) c.loras.push_back({path.c_str(), weight});
  sdxl_generate_params& p = c.params;
  p.prompts = c.prompts.data();
  p.prompt_count = static_cast<int>(c.prompts.size());
  p.negative_prompts = c.negatives.data();
  p.negative_prompt_count = static_cast<int>(c.negatives.size());
  p.prompt_2 = s.prompt_2 ? s.prompt_2->c_str() : nullptr;
  p.width = s.width;
  p.height = s.height;
  p.steps = s.steps;
  p.guidance_scale = s.guidance;
  p.clip_skip = s.clip_skip;
  p.sampler = s.sampler.c_str();
  p.scheduler = s.scheduler.empty() ? nullptr : s.scheduler.c_str();
  p.seed = s.seed + static_cast<uint64_t>(repeat) * static_cast<uint64_t>(s.images_per_prompt * static_cast<int>(s.prompts.size()));
  p.images_per_prompt = s.images_per_prompt;
  p.prompt_syntax = s.prompt_syntax.c_str();
  if (s.init_image) {
    p.init_image = s.init_image->pixels;
    p.init_width = s.init_image->width;
    p.init_height = s.init_image->height;
    p.init_channels = s.init_image->channels;
    p.fit_to_size = 1;
    p.strength = s.strength;
  }
  if (s.mask) {
    p.mask = s.mask->pixels;
    p.mask_width = s.mask->width;
    p.mask_height = s.mask->height;
    p.mask_channels = s.mask->channels;
  }
  p.refiner_mode = s.refiner_mode.c_str();
  p.high_noise_frac = s.high_noise_frac;
  p.loras = c.loras.data();
  p.lora_count = static_cast<int>(c.loras.size());
  p.preview_every = s.preview_every;
  p.embedding_dir = s.embedding_dir.empty() ? nullptr : s.embedding_dir.c_str();
}

uint64_t random_seed() {
  std::random_device device;
  return ((static_cast<uint64_t>(device()) << 32) | device()) % 4294967296ull;  // A1111's seeds fit 32 bits
}

}  // namespace sdxl::server

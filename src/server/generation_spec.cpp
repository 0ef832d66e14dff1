#include "server/generation_spec.h"

#include <malloc.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

#include "server/base64.h"
#include "server/request_fields.h"

namespace sdxl::server {
namespace {
// The C API's parameters from `s`; the uploads decoded only with `decode`.
void fill_call(const GenerationSpec& s, int repeat, GenerateCall& c, bool decode);
}  // namespace

Upload upload_of(const std::string& base64, const std::string& field, int64_t max_pixels) {
  auto bytes = base64_decode(base64);
  if (!bytes || bytes->empty()) throw RequestError(422, field, field + ": not base64 image data");
  int width = 0, height = 0;
  if (sdxl_image_size(reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size(), &width, &height) != SDXL_STATUS_OK)
    throw RequestError(422, field, field + ": " + sdxl_last_error());
  const int64_t pixels = int64_t{width} * height;
  if (pixels > max_pixels) {
    char text[160];
    std::snprintf(text, sizeof text, ": %dx%d is %.1f megapixels, more than the %.1f this request can use; make it smaller first", width,
                  height, pixels / 1e6, max_pixels / 1e6);
    throw RequestError(422, field, field + text);
  }
  return std::make_shared<const UploadedImage>(UploadedImage{std::move(*bytes), field, width, height});
}

ImageHandle decode_upload(const UploadedImage& upload, int64_t max_pixels) {
  sdxl_image* image = nullptr;
  if (sdxl_decode_image_bounded(reinterpret_cast<const unsigned char*>(upload.bytes.data()), upload.bytes.size(), max_pixels,
                                &image) != SDXL_STATUS_OK)
    throw RequestError(422, upload.field, upload.field + ": " + sdxl_last_error());
  return ImageHandle(image, sdxl_image_free);
}

int64_t max_upload_pixels(const GenerationSpec& spec) {
  return std::max<int64_t>(int64_t{4096} * 4096, int64_t{4} * spec.width * spec.height);
}

GenerateCall::~GenerateCall() {
  if (!init_image && !mask && stand_in_image.empty()) return;
  init_image.reset();
  mask.reset();
  std::vector<unsigned char>().swap(stand_in_image);
  std::vector<unsigned char>().swap(stand_in_mask);
  malloc_trim(0);
}

void make_check_call(const GenerationSpec& s, GenerateCall& c) {
  fill_call(s, 0, c, false);
  sdxl_generate_params& p = c.params;
  if (s.init_image) {
    c.stand_in_image.assign(static_cast<size_t>(s.width) * static_cast<size_t>(s.height) * 3, 0);
    p.init_image = c.stand_in_image.data();
    p.init_width = s.width;
    p.init_height = s.height;
    p.init_channels = 3;
    p.fit_to_size = 1;
    p.strength = s.strength;
  }
  if (s.mask) {
    c.stand_in_mask.assign(static_cast<size_t>(s.width) * static_cast<size_t>(s.height), 0);
    p.mask = c.stand_in_mask.data();
    p.mask_width = s.width;
    p.mask_height = s.height;
    p.mask_channels = 1;
  }
}

void make_call(const GenerationSpec& s, int repeat, GenerateCall& c) { fill_call(s, repeat, c, true); }

namespace {

void fill_call(const GenerationSpec& s, int repeat, GenerateCall& c, bool decode) {
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
  if (decode && s.init_image && !c.init_image) c.init_image = decode_upload(*s.init_image, max_upload_pixels(s));
  if (decode && s.mask && !c.mask) c.mask = decode_upload(*s.mask, max_upload_pixels(s));
  if (c.init_image) {
    p.init_image = c.init_image->pixels;
    p.init_width = c.init_image->width;
    p.init_height = c.init_image->height;
    p.init_channels = c.init_image->channels;
    p.fit_to_size = 1;
    p.strength = s.strength;
  }
  if (c.mask) {
    p.mask = c.mask->pixels;
    p.mask_width = c.mask->width;
    p.mask_height = c.mask->height;
    p.mask_channels = c.mask->channels;
  }
  p.refiner_mode = s.refiner_mode.c_str();
  p.high_noise_frac = s.high_noise_frac;
  p.loras = c.loras.data();
  p.lora_count = static_cast<int>(c.loras.size());
  p.preview_every = s.preview_every;
  p.embedding_dir = s.embedding_dir.empty() ? nullptr : s.embedding_dir.c_str();
}

}  // namespace

uint64_t random_seed() {
  std::random_device device;
  return ((static_cast<uint64_t>(device()) << 32) | device()) % 4294967296ull;  // A1111's seeds fit 32 bits
}

}  // namespace sdxl::server

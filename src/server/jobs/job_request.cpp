#include "server/jobs/job_request.h"

#include <cstdio>
#include <random>

#include "server/http/base64.h"
#include "server/http/request_fields.h"

namespace sdxl::server {

uint64_t repeat_seed(const JobRequest& job, int repeat) {
  const api::Generation& g = job.generation;
  if (g.subseed_strength > 0) return g.seed;  // with a variation seed, the variation seed moves on
  return g.seed + static_cast<uint64_t>(repeat) * static_cast<uint64_t>(g.images_per_prompt) * g.prompts.size();
}

uint64_t repeat_subseed(const JobRequest& job, int repeat) {
  const api::Generation& g = job.generation;
  return g.subseed + static_cast<uint64_t>(repeat) * static_cast<uint64_t>(g.images_per_prompt) * g.prompts.size();
}

api::Image upload_of(const std::string& base64, const std::string& field, long long max_pixels) {
  auto bytes = base64_decode(base64);
  if (!bytes || bytes->empty()) throw RequestError(422, field, field + ": not base64 image data");
  api::Image image;
  try {
    image = api::InputImage::from_encoded(std::move(*bytes));
  } catch (const api::Failure& e) {
    throw RequestError(422, field, field + ": " + e.what());
  }
  const long long pixels = static_cast<long long>(image->width) * image->height;
  if (pixels > max_pixels) {
    char text[160];
    std::snprintf(text, sizeof text, ": %dx%d is %.1f megapixels, more than the %.1f this request can use; make it smaller first",
                  image->width, image->height, pixels / 1e6, max_pixels / 1e6);
    throw RequestError(422, field, field + text);
  }
  return image;
}

uint64_t random_seed() {
  std::random_device device;
  return ((static_cast<uint64_t>(device()) << 32) | device()) % 4294967296ull;  // A1111's seeds fit 32 bits
}

const char* image_mime_type(const std::string& bytes) {
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xFF && static_cast<unsigned char>(bytes[1]) == 0xD8) return "image/jpeg";
  if (bytes.size() >= 12 && bytes.compare(0, 4, "RIFF") == 0 && bytes.compare(8, 4, "WEBP") == 0) return "image/webp";
  return "image/png";
}

}  // namespace sdxl::server

#include "rng/batch_generators.h"

#include <cstring>

#include "core/error.h"

namespace sdxl::rng {

BatchGenerators::BatchGenerators(uint64_t seed, int64_t images, BatchSeeding seeding) : images_(images), seeding_(seeding) {
  SDXL_CHECK(images >= 1, InvalidArgument, "[rng] a batch of ", images, " images");
  const int64_t streams = seeding == BatchSeeding::Shared ? 1 : images;
  generators_.reserve(static_cast<size_t>(streams));
  for (int64_t i = 0; i < streams; ++i) generators_.emplace_back(seed + static_cast<uint64_t>(i));  // wraps as torch's uint64 does
}

BatchGenerators::BatchGenerators(const std::vector<uint64_t>& seeds)
    : images_(static_cast<int64_t>(seeds.size())), seeding_(BatchSeeding::PerImage) {
  SDXL_CHECK(!seeds.empty(), InvalidArgument, "[rng] a batch of no images");
  generators_.reserve(seeds.size());
  for (uint64_t s : seeds) generators_.emplace_back(s);
}

void BatchGenerators::randn(float* out, int64_t count) {
  if (seeding_ == BatchSeeding::Shared) return generators_.front().randn(out, count);
  SDXL_CHECK(count % images_ == 0, InvalidArgument, "[rng] ", count, " values are not a whole number per image of ", images_);
  const int64_t each = count / images_;
  for (int64_t i = 0; i < images_; ++i) generators_[static_cast<size_t>(i)].randn(out + i * each, each);
}

Tensor BatchGenerators::randn(const Shape& batch_shape) {
  SDXL_CHECK(batch_shape.rank() >= 1 && batch_shape[0] == images_, InvalidArgument, "[rng] noise of shape ",
             batch_shape.to_string(), " for a batch of ", images_);
  Tensor t = Tensor::empty(batch_shape, DType::F32);
  randn(t.data<float>(), t.numel());
  return t;
}

Tensor BatchGenerators::randn_for_each(const Shape& one_image_shape) {
  SDXL_CHECK(one_image_shape.rank() >= 1 && one_image_shape[0] == 1, InvalidArgument, "[rng] one image's sample of shape ",
             one_image_shape.to_string());
  Shape batch = one_image_shape;
  batch[0] = images_;
  Tensor t = Tensor::empty(batch, DType::F32);
  const int64_t each = one_image_shape.numel();
  float* out = t.data<float>();
  if (seeding_ == BatchSeeding::Shared) {
    generators_.front().randn(out, each);
    for (int64_t i = 1; i < images_; ++i) std::memcpy(out + i * each, out, static_cast<size_t>(each) * sizeof(float));
  } else {
    for (int64_t i = 0; i < images_; ++i) generators_[static_cast<size_t>(i)].randn(out + i * each, each);
  }
  return t;
}

}  // namespace sdxl::rng

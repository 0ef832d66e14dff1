// The random streams of a batch of images. diffusers takes either one torch generator for the
// whole batch (generator=torch.Generator().manual_seed(seed): image i then depends on the batch
// it was made in) or a list of them (generator=[manual_seed(seed + i) for i in range(n)]: image i
// is the single image of seed + i, which is what AUTOMATIC1111 and every seed-reusing tool
// assume). Both draw in the same places; this says from which stream each image's values come.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "rng/torch_generator.h"

namespace sdxl::rng {

enum class BatchSeeding {
  PerImage,  // image i draws from its own generator, seeded seed + i
  Shared,    // one generator for the batch, as diffusers with a single generator
};

class BatchGenerators {
 public:
  BatchGenerators(uint64_t seed, int64_t images, BatchSeeding seeding);
  // One generator per image, image i seeded seeds[i].
  explicit BatchGenerators(const std::vector<uint64_t>& seeds);

  int64_t images() const { return images_; }
  BatchSeeding seeding() const { return seeding_; }

  // torch.randn of a [images, ...] shape: one draw of all of it from the shared generator, or
  // each image's slice from its own.
  Tensor randn(const Shape& batch_shape);
  void randn(float* out, int64_t count);  // count: a whole number of values per image
  // One sample of a [1, ...] shape per image, as [images, ...]: diffusers draws it once from a
  // shared generator and repeats it over the batch (an init image's posterior sample), or once
  // from each image's generator.
  Tensor randn_for_each(const Shape& one_image_shape);

 private:
  std::vector<TorchGenerator> generators_;  // one (Shared) or one per image
  int64_t images_;
  BatchSeeding seeding_;
};

}  // namespace sdxl::rng

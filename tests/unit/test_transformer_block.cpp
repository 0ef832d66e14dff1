// BasicTransformerBlock runs its feed-forward on row blocks (to bound the UNet's largest
// activation); the blocking must not change the result.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "models/common/attention_layers.h"
#include "models/common/weights.h"

namespace sdxl::models {
namespace {

Tensor normal(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

TEST(BasicTransformerBlock, FeedForwardBlockingDoesNotChangeTheResult) {
  RandomWeights weights(3, 0.1f);
  auto block = BasicTransformerBlock::bind(weights, "blk", /*dim=*/64, /*heads=*/2, /*head_dim=*/32, /*context_dim=*/48);
  const Tensor input = normal(Shape{2, 1500, 64}, 1);
  const Tensor context = normal(Shape{2, 7, 48}, 2);
  Arena arena;
  Tensor whole = input.clone(), blocked = input.clone();
  block.set_feed_forward_rows(4096);  // 3000 rows: one block
  block(arena, whole, context);
  arena.reset();
  block.set_feed_forward_rows(700);  // 5 blocks, the last one short
  block(arena, blocked, context);
  double worst = 0, changed = 0;
  for (int64_t i = 0; i < whole.numel(); ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs(whole.data<float>()[i] - blocked.data<float>()[i])));
    changed = std::max(changed, static_cast<double>(std::fabs(whole.data<float>()[i] - input.data<float>()[i])));
  }
  EXPECT_LE(worst, 1e-5);
  EXPECT_GT(changed, 1e-2);  // the block did something
}

}  // namespace
}  // namespace sdxl::models

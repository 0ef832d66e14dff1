// ArenaChain: a chain of stages keeps only the live activations, and the chain's values are
// those of running the stages one after another.
#include <gtest/gtest.h>

#include "models/common/arena_chain.h"

namespace sdxl::models {
namespace {

// out = in + 1, with a temporary as large as the output.
Tensor add_one(Arena& arena, const Tensor& in) {
  Tensor out = Tensor::in_arena(arena, in.shape(), DType::F32);
  Tensor scratch = Tensor::in_arena(arena, in.shape(), DType::F32);
  for (int64_t i = 0; i < in.numel(); ++i) scratch.data<float>()[i] = in.data<float>()[i] + 1.0f;
  std::copy(scratch.data<float>(), scratch.data<float>() + in.numel(), out.data<float>());
  return out;
}

TEST(ArenaChain, KeepsTwoActivationsNotTheWholeChain) {
  Arena arena;
  Tensor kept = Tensor::in_arena(arena, Shape{16}, DType::F32);  // allocated before: must survive
  kept.data<float>()[0] = 42.0f;
  const size_t before = arena.used();
  Tensor input = Tensor::zeros(Shape{1 << 16}, DType::F32);
  const size_t bytes = input.nbytes();
  Tensor x;
  {
    ArenaChain chain(arena);
    x = chain(input, add_one);
    for (int stage = 1; stage < 20; ++stage) x = chain(x, add_one);
    for (int64_t i = 0; i < x.numel(); i += 997) ASSERT_EQ(x.data<float>()[i], 20.0f);
  }
  EXPECT_EQ(kept.data<float>()[0], 42.0f);
  // The caller's arena held at most one stage's output and temporary at a time (20 stages in a
  // stack would have needed 40 such buffers).
  EXPECT_LE(arena.high_water() - before, 2 * bytes + 2 * Arena::kAlignment);
}

}  // namespace
}  // namespace sdxl::models

#include <gtest/gtest.h>

#include "core/convert.h"
#include "core/error.h"
#include "core/tensor.h"

namespace sdxl {
namespace {

TEST(Shape, BasicsAndLimits) {
  Shape s{2, 4, 64, 64};
  EXPECT_EQ(s.rank(), 4);
  EXPECT_EQ(s.numel(), 2 * 4 * 64 * 64);
  EXPECT_EQ(s[-1], 64);
  EXPECT_EQ(s.to_string(), "[2, 4, 64, 64]");
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_THROW((Shape{1, 2, 3, 4, 5, 6, 7, 8, 9}), Error);
  EXPECT_THROW((Shape{2, -1}), Error);
}

TEST(Tensor, OwnedZerosAlignedAndTyped) {
  Tensor t = Tensor::zeros(Shape{3, 5}, DType::F32);
  EXPECT_EQ(t.storage(), Storage::Owned);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  EXPECT_EQ(t.nbytes(), 60u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
  Tensor i64 = Tensor::zeros(Shape{4}, DType::I64);
  EXPECT_EQ(i64.nbytes(), 32u);
}

TEST(Tensor, ReshapeSharesStorage) {
  Tensor t = Tensor::zeros(Shape{2, 6}, DType::F32);
  Tensor r = t.reshape(Shape{3, 4});
  r.data<float>()[5] = 7.0f;
  EXPECT_EQ(t.data<float>()[5], 7.0f);
  EXPECT_THROW(t.reshape(Shape{5}), Error);
}

TEST(Tensor, ConversionsBetweenFloatTypes) {
  Tensor t = Tensor::empty(Shape{3}, DType::F32);
  t.data<float>()[0] = 1.0f;
  t.data<float>()[1] = -2.5f;
  t.data<float>()[2] = 65504.0f;
  Tensor h = t.to(DType::F16);
  EXPECT_EQ(h.data<uint16_t>()[0], 0x3C00);
  Tensor back = h.to(DType::F32);
  EXPECT_EQ(back.data<float>()[1], -2.5f);
  Tensor b = h.to(DType::BF16);  // f16 -> bf16 goes through f32
  EXPECT_EQ(b.data<uint16_t>()[0], 0x3F80);
  EXPECT_THROW(t.to(DType::I32), Error);
}

TEST(Tensor, ViewKeepsOwnerAlive) {
  auto owner = std::make_shared<std::vector<float>>(4, 3.0f);
  Tensor v = Tensor::view(owner->data(), Shape{4}, DType::F32, owner);
  std::weak_ptr<std::vector<float>> weak = owner;
  owner.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(v.data<float>()[3], 3.0f);
  v = Tensor();
  EXPECT_TRUE(weak.expired());
}

TEST(Tensor, ArenaStorage) {
  Arena arena(1024);
  Tensor t = Tensor::in_arena(arena, Shape{16}, DType::F32);
  EXPECT_EQ(t.storage(), Storage::Arena);
  EXPECT_EQ(arena.used(), 64u);
}

TEST(Tensor, RejectsAbsurdSizes) {
  EXPECT_THROW(Tensor::empty(Shape{1 << 30, 1 << 30, 1 << 10}, DType::F32), Error);
}

}  // namespace
}  // namespace sdxl

// f16 / bf16 <-> f32: exhaustive over all 65536 half values, and random plus edge-case floats,
// against the scalar reference (which follows torch's rounding and NaN rules).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/convert.h"
#include "core/error.h"

namespace sdxl {
namespace {

std::vector<float> edge_floats() {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e9f, -1e9f,
                          std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                          std::ldexp(1.0f, -14), std::ldexp(1.0f, -24), std::ldexp(1.0f, -25),
                          std::ldexp(3.0f, -25), std::ldexp(1.0f, -26), std::ldexp(1.0f, -149),
                          std::numeric_limits<float>::min(), std::numeric_limits<float>::max(),
                          1.0f + std::ldexp(1.0f, -11), 1.0f + std::ldexp(3.0f, -11),
                          1.0f + std::ldexp(1.0f, -8), 1.0f + std::ldexp(3.0f, -8)};
  v.push_back(bits_float(0x7F800001u));  // signalling NaN
  v.push_back(bits_float(0xFFFFFFFFu));
  return v;
}

TEST(ConvertF16, KnownValues) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);  // halfway to 65536 rounds to even: infinity
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);  // tie rounds to even (zero)
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);  // tie rounds to even (2)
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);  // tie to even
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(3.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(-0.0f), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::quiet_NaN()), 0x7E00);
  EXPECT_EQ(f32_to_f16(-std::numeric_limits<float>::quiet_NaN()), 0xFE00);
  EXPECT_EQ(f32_to_f16(bits_float(0x7FFFFFFFu)), 0x7E00);  // payload dropped, as torch does
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0xFC00)) && f16_to_f32(0xFC00) < 0);
  EXPECT_EQ(float_bits(f16_to_f32(0x7E00)), 0x7FC00000u);
  EXPECT_EQ(float_bits(f16_to_f32(0x7C01)), 0x7FC02000u);  // signalling NaN comes back quiet
}

TEST(ConvertF16, AllHalfValuesRoundTrip) {
  std::vector<uint16_t> halves(65536);
  for (uint32_t i = 0; i < 65536; ++i) halves[i] = static_cast<uint16_t>(i);
  std::vector<float> floats(65536);
  convert_f16_to_f32(halves.data(), floats.data(), halves.size());
  std::vector<uint16_t> back(65536);
  convert_f32_to_f16(floats.data(), back.data(), floats.size());
  for (uint32_t i = 0; i < 65536; ++i) {
    ASSERT_EQ(float_bits(floats[i]), float_bits(f16_to_f32(halves[i]))) << "half 0x" << std::hex << i;
    uint16_t expected = halves[i];
    bool nan = (i & 0x7C00) == 0x7C00 && (i & 0x3FF);
    if (nan) expected = static_cast<uint16_t>((i & 0x8000) | 0x7E00);  // NaNs come back canonical
    ASSERT_EQ(back[i], expected) << "half 0x" << std::hex << i;
  }
}

TEST(ConvertF16, VectorMatchesScalarOnRandomBits) {
  std::mt19937 gen(7);
  std::vector<float> src(1 << 20);
  for (auto& f : src) f = bits_float(gen());
  // Bias half the values into the f16 range so normal, subnormal and rounding paths all occur.
  std::uniform_real_distribution<float> small(-70000.0f, 70000.0f);
  for (size_t i = 0; i < src.size(); i += 2) src[i] = small(gen) * std::ldexp(1.0f, -static_cast<int>(gen() % 40));
  auto edges = edge_floats();
  src.insert(src.end(), edges.begin(), edges.end());
  std::vector<uint16_t> dst(src.size());
  convert_f32_to_f16(src.data(), dst.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i)
    ASSERT_EQ(dst[i], f32_to_f16(src[i])) << "float bits 0x" << std::hex << float_bits(src[i]);
}

TEST(ConvertBF16, KnownValuesAndRounding) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);   // tie to even
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3F82);   // tie to even (up)
  EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds to infinity
  EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::quiet_NaN()), 0x7FC0);  // torch drops the NaN sign
  EXPECT_EQ(f32_to_bf16(std::ldexp(1.0f, -149)), 0x0000);  // the smallest subnormal rounds to zero
  EXPECT_EQ(f32_to_bf16(std::ldexp(1.0f, -133)), 0x0001);  // bf16's smallest subnormal
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
}

TEST(ConvertBF16, VectorMatchesScalar) {
  std::mt19937 gen(11);
  std::vector<float> src(1 << 20);
  for (auto& f : src) f = bits_float(gen());
  auto edges = edge_floats();
  src.insert(src.end(), edges.begin(), edges.end());
  std::vector<uint16_t> dst(src.size());
  convert_f32_to_bf16(src.data(), dst.data(), src.size());
  for (size_t i = 0; i < src.size(); ++i)
    ASSERT_EQ(dst[i], f32_to_bf16(src[i])) << "float bits 0x" << std::hex << float_bits(src[i]);
  std::vector<float> back(dst.size());
  convert_bf16_to_f32(dst.data(), back.data(), dst.size());
  for (size_t i = 0; i < dst.size(); ++i) ASSERT_EQ(float_bits(back[i]), static_cast<uint32_t>(dst[i]) << 16);
}

TEST(ConvertDispatch, RejectsIntegerTypes) {
  float x = 1.0f;
  int32_t y = 0;
  EXPECT_THROW(convert_from_f32(&x, &y, DType::I32, 1), Error);
}

}  // namespace
}  // namespace sdxl

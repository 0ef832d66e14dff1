// Packed layers as bytes (the packed-weight cache): a layer made over a copy of another's bytes
// computes exactly what the original does, without copying them, and bytes that are not what
// packing that shape and arithmetic makes here are refused, never used.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "ops.h"
#include "random_tensor.h"

namespace sdxl::ops {
namespace {

using test::random_tensor;

// The bytes of `image` copied into one owned buffer, as a mapped file would hold them.
PackedImage copied(const PackedImage& image) {
  size_t total = 0;
  for (const auto& part : image.parts) total += (part.bytes + 63) / 64 * 64;
  auto buffer = std::shared_ptr<unsigned char[]>(new unsigned char[total + 64]);
  PackedImage out{image.layout, {}, nullptr};
  size_t at = 0;
  for (const auto& part : image.parts) {
    std::memcpy(buffer.get() + at, part.data, part.bytes);
    out.parts.push_back({buffer.get() + at, part.bytes});
    at += (part.bytes + 63) / 64 * 64;
  }
  out.owner = std::shared_ptr<const void>(buffer, buffer.get());
  return out;
}

bool identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

class PackedImageTest : public ::testing::TestWithParam<Precision> {};

TEST_P(PackedImageTest, LinearFromItsBytesComputesTheSame) {
  const Precision precision = GetParam();
  for (bool bias : {true, false}) {
    const LinearWeights packed = pack_linear(random_tensor(Shape{96, 80}, 1), bias ? random_tensor(Shape{96}, 2) : Tensor(), precision);
    const PackedImage image = copied(packed_image(packed));
    const LinearWeights restored = linear_from_image(image, 96, 80, bias, precision);
    ASSERT_FALSE(restored.empty());
    EXPECT_EQ(packed_image(restored).parts[0].data, image.parts[0].data);  // used where it lies: no copy
    Arena arena;
    for (int64_t rows : {1, 7, 77}) {
      const Tensor x = random_tensor(Shape{rows, 80}, 3);
      EXPECT_TRUE(identical(linear(arena, x, restored), linear(arena, x, packed))) << rows;
    }
    // Unpacking gives the original values (what a LoRA swap starts from).
    EXPECT_TRUE(identical(unpack_linear(restored).weight, unpack_linear(packed).weight));
  }
}

TEST_P(PackedImageTest, ConvolutionFromItsBytesComputesTheSame) {
  const Precision precision = GetParam();
  const Conv2dGeometry g = Conv2dGeometry::symmetric(24, 16, 3, 1, 1);
  const Conv2dWeights packed = pack_conv2d(random_tensor(Shape{24, 16, 3, 3}, 4), random_tensor(Shape{24}, 5), g, precision);
  const PackedImage image = copied(packed_image(packed));
  const Conv2dWeights restored = conv2d_from_image(image, g, true, precision);
  ASSERT_FALSE(restored.empty());
  Arena arena;
  const Tensor x = random_tensor(Shape{1, 9, 11, 16}, 6);
  EXPECT_TRUE(identical(conv2d(arena, x, restored), conv2d(arena, x, packed)));
  // Another input size (another blocking derived from the mapped one).
  const Tensor y = random_tensor(Shape{2, 32, 20, 16}, 7);
  EXPECT_TRUE(identical(conv2d(arena, y, restored), conv2d(arena, y, packed)));
}

TEST_P(PackedImageTest, BytesOfAnotherLayerAreRefused) {
  const Precision precision = GetParam();
  const Precision other = precision == Precision::F32 ? Precision::BF16 : Precision::F32;
  const PackedImage image = copied(packed_image(pack_linear(random_tensor(Shape{96, 80}, 1), random_tensor(Shape{96}, 2), precision)));
  EXPECT_TRUE(linear_from_image(image, 80, 96, true, precision).empty());   // another shape
  EXPECT_TRUE(linear_from_image(image, 96, 80, false, precision).empty());  // no bias
  EXPECT_TRUE(linear_from_image(image, 96, 80, true, other).empty());       // another arithmetic
  PackedImage altered = image;
  altered.layout.back() ^= 1;  // another blocking (a layout this machine's kernels did not ask for)
  EXPECT_TRUE(linear_from_image(altered, 96, 80, true, precision).empty());
  PackedImage short_parts = image;
  short_parts.parts[0].bytes -= 4;
  EXPECT_TRUE(linear_from_image(short_parts, 96, 80, true, precision).empty());
  short_parts.parts.pop_back();
  EXPECT_TRUE(linear_from_image(short_parts, 96, 80, true, precision).empty());

  const Conv2dGeometry g = Conv2dGeometry::symmetric(24, 16, 3, 1, 1);
  const PackedImage conv = copied(packed_image(pack_conv2d(random_tensor(Shape{24, 16, 3, 3}, 4), Tensor(), g, precision)));
  EXPECT_FALSE(conv2d_from_image(conv, g, false, precision).empty());
  EXPECT_TRUE(conv2d_from_image(conv, g, true, precision).empty());
  EXPECT_TRUE(conv2d_from_image(conv, Conv2dGeometry::symmetric(24, 16, 3, 2, 1), false, precision).empty());
  EXPECT_TRUE(conv2d_from_image(conv, g, false, other).empty());
  EXPECT_TRUE(conv2d_from_image(image, g, false, precision).empty());  // a linear's bytes
}

TEST(PackedImage, OpenBlasLayersToo) {
  // SDXL_GEMM=openblas keeps f32 layers' plain [N, K] rows: the image is those rows, used in place.
  setenv("SDXL_GEMM", "openblas", 1);
  const LinearWeights packed = pack_linear(random_tensor(Shape{40, 24}, 8), random_tensor(Shape{40}, 9), Precision::F32);
  const PackedImage image = copied(packed_image(packed));
  const LinearWeights restored = linear_from_image(image, 40, 24, true, Precision::F32);
  const LinearWeights refused = linear_from_image(image, 40, 24, false, Precision::F32);
  unsetenv("SDXL_GEMM");
  ASSERT_FALSE(restored.empty());
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ(packed_image(restored).parts[0].data, image.parts[0].data);
  Arena arena;
  const Tensor x = random_tensor(Shape{5, 24}, 10);
  EXPECT_TRUE(identical(linear(arena, x, restored), linear(arena, x, packed)));
  // A oneDNN layer's bytes are not an OpenBLAS layer's.
  EXPECT_TRUE(linear_from_image(image, 40, 24, true, Precision::F32).empty());
}

TEST(PackedImage, IdentityNamesTheCpuAndLibraries) {
  const std::string id = packing_identity();
  for (const char* field : {"cpu: ", "onednn: ", "openblas: ", "threads: "}) EXPECT_NE(id.find(field), std::string::npos) << field;
}

INSTANTIATE_TEST_SUITE_P(Precisions, PackedImageTest, ::testing::Values(Precision::F32, Precision::BF16),
                         [](const auto& info) { return info.param == Precision::F32 ? std::string("F32") : std::string("BF16"); });

}  // namespace
}  // namespace sdxl::ops

// Input images: PNG and JPEG decoding, conversions as PIL does them, clear errors for bad files.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/image_file.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

const std::filesystem::path kSeeds = std::filesystem::path(SDXL_SOURCE_DIR) / "fuzz/seeds/image";

// The 6x5 seed's signature, IHDR and a text chunk, then a header claiming 0x79ffffff bytes and
// one byte of it (found by fuzzing).
std::vector<uint8_t> png_with_an_oversized_last_chunk() {
  std::string bytes = test::read_file(kSeeds / "rgb8.png").substr(0, 33);
  const uint8_t text_and_claim[] = {0, 0, 0, 1, 't', 'E', 'X', 't', 'k', 0x1a, 0x2b, 0x3c, 0x4d,
                                    0x79, 0xff, 0xff, 0xff, 't', 'E', 'X', 't', 0xae};
  bytes.append(reinterpret_cast<const char*>(text_and_claim), sizeof text_and_claim);
  return {bytes.begin(), bytes.end()};
}

TEST(Images, ReadsPngAndJpeg) {
  Image8 png = read_image(kSeeds / "rgb8.png");
  EXPECT_EQ(png.width, 6);
  EXPECT_EQ(png.height, 5);
  EXPECT_EQ(png.channels, 3);
  Image8 jpg = read_image(kSeeds / "tiny.jpg");
  EXPECT_EQ(jpg.width, 8);
  EXPECT_EQ(jpg.channels, 3);
  EXPECT_EQ(read_image(kSeeds / "rgba8.png").channels, 4);
  EXPECT_EQ(to_rgb(read_image(kSeeds / "gray8.png")).channels, 3);
}

TEST(Images, GrayConversionIsPils) {
  Image8 rgb{1, 1, 3, {255, 0, 0}};
  EXPECT_EQ(to_gray(rgb).pixels[0], 76);  // PIL: L = R * 299/1000 + ... -> 76 for pure red
  Image8 rgba{1, 1, 4, {10, 20, 30, 0}};
  EXPECT_EQ(to_rgb(rgba).pixels, (std::vector<uint8_t>{10, 20, 30}));  // alpha dropped
}

TEST(Images, TruncatedJpegIsAnError) {
  test::TempDir dir;
  std::string bytes = test::read_file(kSeeds / "tiny.jpg");
  test::write_file(dir / "cut.jpg", bytes.substr(0, bytes.size() / 2));
  try {
    read_image(dir / "cut.jpg");
    FAIL() << "accepted a truncated JPEG";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Format) << e.what();
  }
}

TEST(Images, TruncatedPngAndForeignFiles) {
  test::TempDir dir;
  std::string bytes = test::read_file(kSeeds / "rgb8.png");
  test::write_file(dir / "cut.png", bytes.substr(0, bytes.size() - 20));
  EXPECT_THROW(read_image(dir / "cut.png"), Error);
  test::write_file(dir / "x.gif", "GIF89a....");
  EXPECT_THROW(read_image(dir / "x.gif"), Error);
  EXPECT_THROW(read_image(dir / "missing.png"), Error);
}

// A last chunk header cut short of its data and CRC: libpng would allocate the claimed 2 GB as
// soon as it read the header, so the claim is refused before libpng sees the file.
TEST(Images, PngChunkClaimingMoreThanTheFileIsRefusedUnread) {
  std::vector<uint8_t> bytes = png_with_an_oversized_last_chunk();
  try {
    decode_image(bytes, "claim.png");
    FAIL() << "accepted a chunk claiming 2 GB";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Format);
    EXPECT_NE(std::string(e.what()).find("claims 2046820351 bytes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sdxl::io

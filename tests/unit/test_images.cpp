// Input images: PNG and JPEG decoding, conversions as PIL does them, clear errors for bad files.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/image_file.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

const std::filesystem::path kSeeds = std::filesystem::path(SDXL_SOURCE_DIR) / "fuzz/seeds/image";

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

}  // namespace
}  // namespace sdxl::io

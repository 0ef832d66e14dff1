// Input images: PNG and JPEG decoding, conversions as PIL does them, clear errors for bad files.
#include <gtest/gtest.h>

#include <cstdio>  // before jpeglib.h, which uses FILE
#include <cstdlib>

#include <jpeglib.h>

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

namespace sdxl::io {
namespace {

// A grayscale progressive JPEG of `side` x `side` whose scan script has `bands` one-coefficient
// AC bands, each sent in three successive-approximation passes: 1 + 3 * bands scans.
std::vector<uint8_t> progressive_jpeg(int side, int bands) {
  jpeg_compress_struct info{};
  jpeg_error_mgr error{};
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&info, &out, &size);
  info.image_width = static_cast<JDIMENSION>(side);
  info.image_height = static_cast<JDIMENSION>(side);
  info.input_components = 1;
  info.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&info);
  std::vector<jpeg_scan_info> scans;
  scans.push_back({1, {0}, 0, 0, 0, 0});  // DC
  for (int band = 1; band <= bands; ++band) {
    scans.push_back({1, {0}, band, band, 0, 2});
    scans.push_back({1, {0}, band, band, 2, 1});
    scans.push_back({1, {0}, band, band, 1, 0});
  }
  info.scan_info = scans.data();
  info.num_scans = static_cast<int>(scans.size());
  jpeg_start_compress(&info, TRUE);
  std::vector<uint8_t> row(static_cast<size_t>(side));
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) row[static_cast<size_t>(x)] = static_cast<uint8_t>((x * 7 + y * 3) & 255);
    JSAMPROW line = row.data();
    jpeg_write_scanlines(&info, &line, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::vector<uint8_t> bytes(out, out + size);
  free(out);
  return bytes;
}

// Each scan is a pass over every block: a file of many tiny scans costs seconds of CPU to
// decode (#23 item 4). More than 64 are refused as soon as the 65th is reached.
TEST(Images, JpegWithTooManyScansIsRefused) {
  const Image8 ordinary = decode_jpeg(progressive_jpeg(64, 20), "61 scans");
  EXPECT_EQ(ordinary.width, 64);
  try {
    decode_jpeg(progressive_jpeg(64, 63), "190 scans");
    FAIL() << "a JPEG of 190 scans decoded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("progressive scans"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sdxl::io

// JPEG and WebP output with AUTOMATIC1111's EXIF parameters, and png-info from all three
// formats, against files Pillow and piexif wrote as AUTOMATIC1111's API writes them
// (tests/fixtures/a1111_formats/make_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "io/exif.h"
#include "io/image_encode.h"
#include "io/image_file.h"
#include "io/webp.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;
using io::Image8;

fs::path fixtures() { return fs::path(SDXL_SOURCE_DIR) / "tests/fixtures/a1111_formats"; }
std::vector<uint8_t> bytes_of(const std::string& name) { return io::read_file_bytes(fixtures() / name); }
std::string parameters() {
  std::ifstream in(fixtures() / "parameters.txt", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The largest per-channel difference and the mean absolute one.
std::pair<int, double> difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int worst = 0;
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const int d = std::abs(int{a[i]} - int{b[i]});
    worst = std::max(worst, d);
    sum += d;
  }
  return {worst, sum / static_cast<double>(a.size())};
}

TEST(Exif, UserCommentBlockIsPiexifsByteForByte) {
  EXPECT_EQ(io::exif_with_user_comment(parameters()), bytes_of("exif.bin"));
}

TEST(Exif, ReadsWhatPillowAndPiexifWrote) {
  const std::string want = parameters();
  EXPECT_EQ(io::image_parameters(bytes_of("a1111.jpg"), "a1111.jpg"), want);
  EXPECT_EQ(io::image_parameters(bytes_of("a1111.webp"), "a1111.webp"), want);
  const auto exif = bytes_of("exif.bin");
  EXPECT_EQ(io::exif_user_comment(exif.data(), exif.size()), want);
  EXPECT_EQ(io::exif_user_comment(exif.data() + 6, exif.size() - 6), want) << "without the Exif\\0\\0 prefix";
}

TEST(Exif, DamagedBlocksReadAsNoneWithoutReadingOutside) {
  auto exif = bytes_of("exif.bin");
  for (size_t n = 0; n < exif.size(); ++n) {
    std::vector<uint8_t> cut(exif.begin(), exif.begin() + static_cast<std::ptrdiff_t>(n));  // its own allocation: ASan sees overreads
    const auto got = io::exif_user_comment(cut.data(), cut.size());
    if (got) {
      EXPECT_LT(got->size(), parameters().size()) << n;
    }
  }
  exif[6 + 4 + 3] = 0xF0;  // IFD0 offset far outside
  EXPECT_FALSE(io::exif_user_comment(exif.data(), exif.size()));
  const std::vector<uint8_t> not_jpeg = {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E'};
  EXPECT_FALSE(io::jpeg_exif_segment(not_jpeg));
}

TEST(ImageEncode, JpegIsPillowsAtTheSameQuality) {
  const Image8 source = io::read_png(fixtures() / "source.png");
  const auto ours = io::encode_image(source, {io::ImageFormat::Jpeg, 80, false}, parameters());
  EXPECT_EQ(io::image_parameters(ours, "ours"), parameters());
  const Image8 decoded = io::decode_image(ours, "ours");
  ASSERT_EQ(decoded.width, source.width);
  ASSERT_EQ(decoded.channels, 3);
  // Pillow's own file, decoded by Pillow: the same libjpeg settings give the same pixels.
  const auto pillows = bytes_of("a1111.jpg.rgb");
  const auto [worst, mean] = difference(decoded.pixels, pillows);
  EXPECT_EQ(worst, 0) << "mean " << mean;
  EXPECT_EQ(io::image_header(ours, "ours").width, 48);
  // RGBA is written as its RGB (alpha dropped, as AUTOMATIC1111 converts it).
  Image8 rgba{source.width, source.height, 4, {}};
  for (size_t i = 0; i < source.pixels.size() / 3; ++i)
    rgba.pixels.insert(rgba.pixels.end(), {source.pixels[i * 3], source.pixels[i * 3 + 1], source.pixels[i * 3 + 2], 7});
  EXPECT_EQ(io::encode_image(rgba, {io::ImageFormat::Jpeg, 80, false}, parameters()), ours);
}

TEST(ImageEncode, WebpLossyIsPillowsAndLosslessIsExact) {
  const Image8 source = io::read_png(fixtures() / "source.png");
  const auto lossy = io::encode_image(source, {io::ImageFormat::Webp, 80, false}, parameters());
  EXPECT_EQ(io::image_parameters(lossy, "ours"), parameters());
  const Image8 decoded = io::decode_image(lossy, "ours");
  ASSERT_EQ(decoded.channels, 3);
  const auto [worst, mean] = difference(decoded.pixels, bytes_of("a1111.webp.rgb"));
  EXPECT_EQ(worst, 0) << "mean " << mean;
  const auto lossless = io::encode_image(source, {io::ImageFormat::Webp, 80, true}, "");
  EXPECT_EQ(io::decode_image(lossless, "lossless").pixels, source.pixels);
  EXPECT_EQ(io::image_parameters(lossless, "lossless"), "");
  const Image8 header = io::image_header(lossless, "lossless");
  EXPECT_EQ(header.width, 48);
  EXPECT_EQ(header.height, 32);
}

TEST(ImageEncode, BadInputIsAClearError) {
  const std::vector<uint8_t> riff = {'R', 'I', 'F', 'F', 4, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', ' '};
  EXPECT_THROW(io::decode_image(riff, "upload"), Error);
  EXPECT_THROW(io::image_parameters({'G', 'I', 'F', '8'}, "upload"), Error);
  EXPECT_FALSE(io::image_format_named("gif"));
  EXPECT_EQ(io::image_format_named("JPG"), io::ImageFormat::Jpeg);
  Image8 big;
  big.width = 9000;
  big.height = 8;
  big.channels = 3;
  big.pixels.resize(9000 * 8 * 3);
  const auto webp = io::encode_image(big, {io::ImageFormat::Webp, 80, true}, "");
  EXPECT_THROW(io::decode_image(webp, "upload"), Error);  // wider than kMaxImageSide
}

}  // namespace
}  // namespace sdxl

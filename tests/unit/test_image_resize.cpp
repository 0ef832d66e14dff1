// The Lanczos resize against Pillow 9.4's Image.resize(LANCZOS) (tests/data/resize, made by its
// make_golden.py): every pixel must be identical, since diffusers feeds these bytes to the VAE.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "io/image_file.h"
#include "io/image_resize.h"

namespace sdxl::io {
namespace {

const std::filesystem::path kData = std::filesystem::path(SDXL_SOURCE_DIR) / "tests/data/resize";

struct Case {
  const char* input;
  int64_t width, height;
};

class PilLanczos : public ::testing::TestWithParam<Case> {};

TEST_P(PilLanczos, MatchesEveryPixel) {
  const Case c = GetParam();
  const Image8 input = read_image(kData / (std::string(c.input) + ".png"));
  const Image8 expected =
      read_image(kData / (std::string(c.input) + "_" + std::to_string(c.width) + "x" + std::to_string(c.height) + ".png"));
  const Image8 ours = resize_lanczos(input, c.width, c.height);
  ASSERT_EQ(ours.width, c.width);
  ASSERT_EQ(ours.height, c.height);
  ASSERT_EQ(ours.channels, expected.channels);
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < ours.pixels.size(); ++i)
    if (ours.pixels[i] != expected.pixels[i] && differing++ == 0) first = i;
  EXPECT_EQ(differing, 0u) << "first at byte " << first << ": ours " << int(ours.pixels[first]) << ", PIL "
                           << int(expected.pixels[first]);
}

INSTANTIATE_TEST_SUITE_P(Pillow94, PilLanczos,
                         ::testing::Values(Case{"rgb_37x29", 32, 24}, Case{"rgb_37x29", 64, 48}, Case{"rgb_37x29", 40, 40},
                                           Case{"rgb_37x29", 37, 24}, Case{"rgb_100x60", 48, 24},
                                           Case{"rgb_100x60", 96, 56}, Case{"gray_45x33", 40, 32},
                                           Case{"gray_45x33", 8, 8}, Case{"rgba_30x22", 24, 16},
                                           Case{"rgba_30x22", 64, 48}));

TEST(ImageResize, SameSizeIsACopyAndFlatStaysFlat) {
  Image8 flat{13, 7, 3, std::vector<uint8_t>(13 * 7 * 3, 200)};
  EXPECT_EQ(resize_lanczos(flat, 13, 7).pixels, flat.pixels);
  const Image8 up = resize_lanczos(flat, 40, 24);
  for (uint8_t v : up.pixels) ASSERT_EQ(v, 200);  // the weights of every output sum to one
}

TEST(ImageResize, RoundsDownToTheVaeMultiple) {
  EXPECT_EQ(round_down_to_multiple(1023, 8), 1016);
  EXPECT_EQ(round_down_to_multiple(1024, 8), 1024);
  EXPECT_EQ(round_down_to_multiple(7, 8), 0);
}

TEST(ImageResize, RejectsBadRequests) {
  Image8 image{4, 4, 3, std::vector<uint8_t>(48, 0)};
  EXPECT_THROW(resize_lanczos(image, 0, 8), Error);
  EXPECT_THROW(resize_lanczos(image, 8, 100000), Error);
  Image8 two_channels{4, 4, 2, std::vector<uint8_t>(32, 0)};
  EXPECT_THROW(resize_lanczos(two_channels, 8, 8), Error);
  Image8 short_buffer{4, 4, 3, std::vector<uint8_t>(47, 0)};
  EXPECT_THROW(resize_lanczos(short_buffer, 8, 8), Error);
}

}  // namespace
}  // namespace sdxl::io

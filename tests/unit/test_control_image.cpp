// Control images as AUTOMATIC1111's ControlNet extension makes them: Canny against the reference
// data's OpenCV 4.6 maps (kind canny, exact), and the resize modes against maps made with
// OpenCV's Python bindings as the extension calls them (tests/fixtures/control_maps), byte for byte.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "golden_cases.h"
#include "imaging/control_image.h"
#include "io/image_file.h"
#include "io/png.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;
using io::Image8;

::testing::AssertionResult same_pixels(const Image8& got, const Image8& want) {
  if (got.width != want.width || got.height != want.height || got.channels != want.channels)
    return ::testing::AssertionFailure() << "got " << got.width << "x" << got.height << "x" << got.channels << ", want "
                                         << want.width << "x" << want.height << "x" << want.channels;
  size_t differing = 0, first = 0;
  for (size_t i = 0; i < got.pixels.size(); ++i)
    if (got.pixels[i] != want.pixels[i] && differing++ == 0) first = i;
  if (differing == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << differing << " bytes differ, the first at " << first << " (got "
                                       << int(got.pixels[first]) << ", want " << int(want.pixels[first]) << ")";
}

TEST(Canny, MatchesOpenCvAsTheExtensionCallsIt) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("canny");
  ASSERT_GE(cases.size(), 5u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Image8 input = io::read_png(test::reference_dir() / c["files"]["input"].get<std::string>());
    const Image8 want = io::read_png(test::reference_dir() / c["files"]["edges"].get<std::string>());
    const auto& p = c["params"];
    // The cases' resolution is the short side: the resize is a copy, the padding is not.
    const Image8 got = imaging::canny_map(input, std::min(input.width, input.height), p["low_threshold"].get<double>(),
                                          p["high_threshold"].get<double>());
    ASSERT_EQ(got.channels, 3);
    Image8 gray = want;
    if (want.channels == 3) gray = io::to_gray(want);
    Image8 got_gray{got.width, got.height, 1, {}};
    for (size_t i = 0; i < got.pixels.size(); i += 3) got_gray.pixels.push_back(got.pixels[i]);
    EXPECT_TRUE(same_pixels(got_gray, gray));
  }
}

TEST(Canny, RefusesBadSettings) {
  Image8 image{8, 8, 3, std::vector<uint8_t>(8 * 8 * 3, 7)};
  EXPECT_THROW(imaging::canny_map(image, 0, 100, 200), Error);
  EXPECT_THROW(imaging::canny_map(image, 512, -1, 200), Error);
  EXPECT_THROW(imaging::canny_map(image, 100000, 100, 200), Error);
}

fs::path fixtures() { return fs::path(SDXL_SOURCE_DIR) / "tests/fixtures/control_maps"; }

TEST(ControlMaps, ResizeModesMatchTheExtension) {
  size_t seen = 0;
  for (const char* name : {"edges", "thick", "seg", "photo"}) {
    const Image8 input = io::read_png(fixtures() / (std::string(name) + ".input.png"));
    for (const char* mode : {"just", "crop", "fill"})
      for (auto [w, h] : {std::pair{128, 96}, std::pair{40, 32}}) {
        const std::string file = std::string(name) + "." + mode + "." + std::to_string(w) + "x" + std::to_string(h) + ".png";
        SCOPED_TRACE(file);
        const Image8 got = imaging::fit_control_map(input, imaging::parse_control_resize_mode(mode), w, h);
        EXPECT_TRUE(same_pixels(got, io::read_png(fixtures() / file)));
        ++seen;
      }
  }
  EXPECT_EQ(seen, 24u);
}

TEST(ControlMaps, ResizeModeNamesAndPixelPerfect) {
  using imaging::ControlResizeMode;
  EXPECT_EQ(imaging::parse_control_resize_mode("Crop and Resize"), ControlResizeMode::CropAndResize);
  EXPECT_EQ(imaging::parse_control_resize_mode("Inner Fit (Scale to Fit)"), ControlResizeMode::CropAndResize);
  EXPECT_EQ(imaging::parse_control_resize_mode("2"), ControlResizeMode::ResizeAndFill);
  EXPECT_THROW(imaging::parse_control_resize_mode("Stretch"), Error);
  const Image8 image{600, 400, 3, {}};
  // 1024x1024 from 600x400: cover (crop) takes the larger factor, fit the smaller.
  EXPECT_EQ(imaging::pixel_perfect_resolution(image, 1024, 1024, ControlResizeMode::CropAndResize), 1024);
  EXPECT_EQ(imaging::pixel_perfect_resolution(image, 1024, 1024, ControlResizeMode::ResizeAndFill), 683);
}

TEST(ControlMaps, InputsBecomeRgbAsTheExtensionTakesThem) {
  // RGBA with a partial alpha: a scribble, its alpha as gray.
  Image8 rgba{2, 1, 4, {10, 20, 30, 0, 40, 50, 60, 200}};
  EXPECT_EQ(imaging::control_input_rgb(rgba).pixels, (std::vector<uint8_t>{0, 0, 0, 200, 200, 200}));
  // Opaque: its RGB.
  rgba.pixels[3] = 255;
  rgba.pixels[7] = 251;
  EXPECT_EQ(imaging::control_input_rgb(rgba).pixels, (std::vector<uint8_t>{10, 20, 30, 40, 50, 60}));
  // HWC3 composites over white.
  const Image8 half{1, 1, 4, {0, 100, 200, 128}};
  EXPECT_EQ(imaging::hwc3(half).pixels, (std::vector<uint8_t>{126, 177, 227}));  // numpy float32, truncated
}

}  // namespace
}  // namespace sdxl

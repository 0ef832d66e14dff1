// AUTOMATIC1111's inpainting image operations against fixtures made with Pillow and OpenCV as
// AUTOMATIC1111 1.10 runs them (tests/fixtures/a1111_inpaint/make_fixtures.py): every
// intermediate and the final overlay, byte for byte.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "imaging/a1111_inpaint.h"
#include "io/png.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;
using imaging::Image8;

fs::path fixtures() { return fs::path(SDXL_SOURCE_DIR) / "tests/fixtures/a1111_inpaint"; }
Image8 fixture(const std::string& name) { return io::read_png(fixtures() / name); }
nlohmann::json cases() {
  std::ifstream in(fixtures() / "cases.json");
  return nlohmann::json::parse(in);
}

// Byte-equal, or where the first difference is.
::testing::AssertionResult same_image(const Image8& got, const Image8& want) {
  if (got.width != want.width || got.height != want.height || got.channels != want.channels)
    return ::testing::AssertionFailure() << "got " << got.width << "x" << got.height << "x" << got.channels << ", want "
                                         << want.width << "x" << want.height << "x" << want.channels;
  int64_t differ = 0, first = -1;
  for (size_t i = 0; i < got.pixels.size(); ++i)
    if (got.pixels[i] != want.pixels[i]) {
      if (first < 0) first = static_cast<int64_t>(i);
      ++differ;
    }
  if (differ == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << differ << " bytes differ, first at byte " << first << " (pixel " << first / got.channels
                                       << "): got " << int{got.pixels[static_cast<size_t>(first)]} << " want "
                                       << int{want.pixels[static_cast<size_t>(first)]};
}

TEST(A1111Inpaint, ResizeImageModesMatchPillow) {
  const Image8 image = fixture("whole-in-image.png");
  const auto all = cases()["resize_image"];
  ASSERT_EQ(all.size(), 9u);
  for (const auto& c : all) {
    SCOPED_TRACE(c["result"].get<std::string>());
    EXPECT_TRUE(same_image(imaging::resize_image(c["mode"], image, c["width"], c["height"]), fixture(c["result"])));
  }
}

TEST(A1111Inpaint, EveryStepMatchesAutomatic1111) {
  const auto all = cases()["cases"];
  ASSERT_EQ(all.size(), 7u);
  for (const auto& c : all) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const Image8 image = fixture(c["image"]), mask = fixture(c["mask"]);
    EXPECT_TRUE(same_image(imaging::binary_mask(mask), fixture(c["binary_mask"]))) << "binary mask";
    imaging::InpaintOptions o;
    o.invert = c["invert"];
    o.blur_x = c["blur_x"];
    o.blur_y = c["blur_y"];
    o.only_masked = c["only_masked"];
    o.padding = c["padding"];
    o.content = c["fill"] == 1 ? imaging::MaskedContent::Original : imaging::MaskedContent::Fill;
    const auto frame = imaging::frame_inpainting(image, mask, c["width"], c["height"], o);
    EXPECT_EQ(frame.only_masked, !c["crop_region"].is_null());
    if (frame.paste_to) {
      const auto& r = c["crop_region"];
      EXPECT_EQ(frame.paste_to->x0, r[0]);
      EXPECT_EQ(frame.paste_to->y0, r[1]);
      EXPECT_EQ(frame.paste_to->x1, r[2]);
      EXPECT_EQ(frame.paste_to->y1, r[3]);
    }
    EXPECT_TRUE(same_image(frame.mask, imaging::to_gray(fixture(c["work_mask"])))) << "the mask the model gets";
    EXPECT_TRUE(same_image(frame.overlay, fixture(c["overlay"]))) << "the overlay";
    EXPECT_TRUE(same_image(frame.image, fixture(c["work_image"]))) << "the image the model starts from";
    EXPECT_TRUE(same_image(imaging::overlay_original(fixture(c["generated"]), frame), fixture(c["result"]))) << "the result";
  }
}

// Outside the blurred mask the original comes back exactly: where the overlay is opaque.
TEST(A1111Inpaint, PixelsOutsideTheMaskComeBackUnchanged) {
  const Image8 image = fixture("whole-in-image.png"), mask = fixture("whole-in-mask.png");
  imaging::InpaintOptions o;
  o.blur_x = o.blur_y = 4;
  o.only_masked = true;
  o.padding = 4;
  const auto frame = imaging::frame_inpainting(image, mask, 64, 64, o);
  const Image8 generated = imaging::invert(frame.image);  // anything else than the original
  const Image8 result = imaging::overlay_original(generated, frame);
  ASSERT_EQ(result.width, image.width);
  int64_t kept = 0, changed = 0;
  for (int64_t i = 0; i < image.width * image.height; ++i) {
    const bool outside = frame.overlay.pixels[static_cast<size_t>(i * 4 + 3)] == 255;
    bool same = true;
    for (int ch = 0; ch < 3; ++ch) same = same && result.pixels[static_cast<size_t>(i * 3 + ch)] == image.pixels[static_cast<size_t>(i * 3 + ch)];
    if (outside) {
      EXPECT_TRUE(same) << "pixel " << i << " outside the mask changed";
      ++kept;
    } else {
      changed += !same;
    }
  }
  EXPECT_GT(kept, image.width * image.height / 2);
  EXPECT_GT(changed, 0);
}

}  // namespace
}  // namespace sdxl

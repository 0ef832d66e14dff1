// img2img, inpainting and the refiner through the CLI, against the golden cases: the case's
// init image and mask are written as 8-bit PNGs (their values are multiples of 1/255, so this
// is exact) and the outputs compared with diffusers'.
#include <gtest/gtest.h>

#include <cmath>

#include "cli/cli_runner.h"
#include "golden_cases.h"
#include "io/image_resize.h"
#include "io/png.h"
#include "cli/tensor_png.h"

namespace sdxl {
namespace {

void expect_image_close(const fs::path& png, const Tensor& want) {
  io::Image8 image = io::read_png(png);
  ASSERT_EQ(image.width, want.dim(2));
  ASSERT_EQ(image.height, want.dim(1));
  int worst = 0;
  for (int64_t k = 0; k < want.numel(); ++k)
    worst = std::max(worst, std::abs(static_cast<int>(std::nearbyint(want.data<float>()[k] * 255.0f)) -
                                     static_cast<int>(image.pixels[static_cast<size_t>(k)])));
  EXPECT_LE(worst, 1) << png;
}

nlohmann::json first_case(const std::string& kind) {
  auto cases = test::cases_of_kind(kind);
  return cases.empty() ? nlohmann::json() : cases.front();
}

TEST(CliImg2Img, MatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  auto c = first_case("img2img");
  ASSERT_FALSE(c.is_null());
  test::TempDir dir;
  test::CaseFile file(c);
  write_tensor_png(dir / "init.png", file["init_image"]);
  const auto& p = c["params"];
  auto r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + " -p '" + p["prompt"].get<std::string>() +
                    "' --init-image " + quoted(dir / "init.png") + " --strength " + std::to_string(p["strength"].get<double>()) +
                    " --steps " + std::to_string(p["num_inference_steps"].get<int>()) + " --seed " +
                    std::to_string(p["seed"].get<int>()) + " -o " + quoted(dir / "out.png") + " --output-latents " +
                    quoted(dir / "l.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_image_close(dir / "out.png", file["image"]);
  EXPECT_TRUE(test::matches(io::SafetensorsFile::open(dir / "l.safetensors")->tensor("latents"), file["latents"], c, "latents"));
  auto text = io::read_png_text(dir / "out.png");
  EXPECT_NE(text.at(0).second.find("Denoising strength: 0.6"), std::string::npos) << text.at(0).second;
}

// diffusers resizes a PIL init image to its size rounded down to a multiple of 8 (or to the
// requested size) with PIL's Lanczos filter, which io::resize_lanczos matches pixel for pixel
// (unit_io's PilLanczos tests): a run from an odd-sized image must equal a run from the image
// resized beforehand.
TEST(CliImg2Img, ResizesTheInitImageAsDiffusersDoes) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  io::Image8 odd{69, 75, 3, {}};
  for (int64_t y = 0; y < odd.height; ++y)
    for (int64_t x = 0; x < odd.width; ++x)
      for (int c = 0; c < 3; ++c) odd.pixels.push_back(static_cast<uint8_t>((x * 5 + y * 3 + c * 80 + (x * y) % 17) % 256));
  io::write_png(dir / "odd.png", odd);
  io::write_png(dir / "rounded.png", io::resize_lanczos(odd, 64, 72));
  io::write_png(dir / "fitted.png", io::resize_lanczos(odd, 80, 64));
  auto generate = [&](const std::string& image, const std::string& extra, const std::string& out) {
    auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                      " -p cat --steps 3 --strength 0.7 --seed 3 --init-image " + quoted(dir / image) + " " + extra +
                      " -o " + quoted(dir / out));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return io::read_png(dir / out);
  };
  const io::Image8 from_odd = generate("odd.png", "", "a.png");
  EXPECT_EQ(from_odd.width, 64);
  EXPECT_EQ(from_odd.height, 72);
  EXPECT_EQ(from_odd.pixels, generate("rounded.png", "", "b.png").pixels);
  EXPECT_NE(io::read_png_text(dir / "a.png").at(0).second.find("Size: 64x72"), std::string::npos);

  const io::Image8 fitted = generate("odd.png", "-W 80 -H 64", "c.png");
  EXPECT_EQ(fitted.width, 80);
  EXPECT_EQ(fitted.height, 64);
  EXPECT_EQ(fitted.pixels, generate("fitted.png", "", "d.png").pixels);

  // The inpainting mask follows the image (resized in its own mode, then made gray).
  io::Image8 mask{69, 75, 1, {}};
  for (int64_t y = 0; y < mask.height; ++y)
    for (int64_t x = 0; x < mask.width; ++x) mask.pixels.push_back(x + y > 70 ? 255 : 0);
  io::write_png(dir / "odd_mask.png", mask);
  io::write_png(dir / "rounded_mask.png", io::resize_lanczos(mask, 64, 72));
  EXPECT_EQ(generate("odd.png", "--mask " + quoted(dir / "odd_mask.png"), "e.png").pixels,
            generate("rounded.png", "--mask " + quoted(dir / "rounded_mask.png"), "f.png").pixels);
}

TEST(CliImg2Img, InpaintMatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  auto c = first_case("inpaint");
  ASSERT_FALSE(c.is_null());
  test::TempDir dir;
  test::CaseFile file(c);
  write_tensor_png(dir / "init.png", file["init_image"]);
  write_tensor_png(dir / "mask.png", file["mask_image"]);
  const auto& p = c["params"];
  auto r = run_sdxl("generate -m " + quoted(test::model_dir(c)) + " -p '" + p["prompt"].get<std::string>() +
                    "' --init-image " + quoted(dir / "init.png") + " --mask " + quoted(dir / "mask.png") + " --strength " +
                    std::to_string(p["strength"].get<double>()) + " --steps " +
                    std::to_string(p["num_inference_steps"].get<int>()) + " --seed " + std::to_string(p["seed"].get<int>()) +
                    " -o " + quoted(dir / "out.png") + " --output-latents " + quoted(dir / "l.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_image_close(dir / "out.png", file["image"]);
  EXPECT_TRUE(test::matches(io::SafetensorsFile::open(dir / "l.safetensors")->tensor("latents"), file["latents"], c, "latents"));
}

TEST(CliImg2Img, EnsembleWithRefinerMatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  auto c = first_case("ensemble");
  ASSERT_FALSE(c.is_null());
  test::TempDir dir;
  test::CaseFile file(c);
  const auto& p = c["params"];
  for (const char* memory : {"", " --low-memory"}) {
    auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") + " --refiner " +
                      quoted(test::reference_dir() / "models/tiny-sdxl-refiner") + " -p '" + p["prompt"].get<std::string>() +
                      "' -W 64 -H 64 --steps " + std::to_string(p["num_inference_steps"].get<int>()) +
                      " --high-noise-frac " + std::to_string(p["denoising_end"].get<double>()) + " --seed " +
                      std::to_string(p["base_seed"].get<int>()) + " --refiner-seed " +
                      std::to_string(p["refiner_seed"].get<int>()) + memory + " -o " + quoted(dir / "out.png") +
                      " --output-latents " + quoted(dir / "l.safetensors"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_image_close(dir / "out.png", file["image"]);
    EXPECT_TRUE(test::matches(io::SafetensorsFile::open(dir / "l.safetensors")->tensor("latents"), file["refiner_latents"],
                              c, "refiner_latents"));
  }
}

TEST(CliImg2Img, RefinerImg2ImgModeRuns) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") + " --refiner " +
                    quoted(test::reference_dir() / "models/tiny-sdxl-refiner") +
                    " --refiner-mode img2img --refiner-strength 0.5 -p cat -p dog --batch 2 -W 64 -H 64 --steps 4 --seed 1 -o " +
                    quoted(dir / "out.png"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(fs::exists(dir / ("out-" + std::to_string(i) + ".png")));
  auto text = io::read_png_text(dir / "out-1.png");
  EXPECT_NE(text.at(0).second.find("Refiner: tiny-sdxl-refiner"), std::string::npos) << text.at(0).second;
}

// AUTOMATIC1111's inpainting options: only the masked area, worked on at -W x -H, comes back into
// the whole image; outside the blurred mask the init image's pixels are kept; the masked
// content options each start the area differently; the PNG text names them as the webui does.
TEST(CliImg2Img, Automatic1111InpaintingKeepsWhatIsNotMasked) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const io::Image8 init = io::read_png(fs::path(SDXL_SOURCE_DIR) / "tests/fixtures/a1111_inpaint/whole-in-image.png");
  io::write_png(dir / "init.png", init);
  io::Image8 mask{96, 80, 1, std::vector<uint8_t>(96 * 80, 0)};
  for (int y = 30; y < 50; ++y)
    for (int x = 40; x < 64; ++x) mask.pixels[static_cast<size_t>(y * 96 + x)] = 255;
  io::write_png(dir / "mask.png", mask);
  const std::string base = "generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") + " -p boat --init-image " +
                           quoted(dir / "init.png") + " --mask " + quoted(dir / "mask.png") +
                           " -W 64 -H 64 --steps 3 --strength 0.9 --seed 5 --mask-blur 4 --inpaint-only-masked --inpaint-padding 8";
  std::vector<std::vector<uint8_t>> inside;
  for (const char* fill : {"fill", "original", "noise", "nothing"}) {
    SCOPED_TRACE(fill);
    const fs::path out = dir / (std::string(fill) + ".png");
    auto r = run_sdxl(base + " --inpaint-fill " + fill + " -o " + quoted(out));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const io::Image8 image = io::read_png(out);
    ASSERT_EQ(image.width, 96);
    ASSERT_EQ(image.height, 80);
    int64_t kept = 0, far = 0;
    std::vector<uint8_t> masked;
    for (int y = 0; y < 80; ++y)
      for (int x = 0; x < 96; ++x) {
        const auto at = image.pixels.begin() + (y * 96 + x) * 3;
        if (x >= 40 && x < 64 && y >= 30 && y < 50) masked.insert(masked.end(), at, at + 3);
        if (x > 25 && x < 79 && y > 15 && y < 65) continue;  // the mask and its blur
        ++far;
        kept += std::equal(at, at + 3, init.pixels.begin() + (y * 96 + x) * 3);
      }
    EXPECT_EQ(kept, far);
    inside.push_back(masked);
    const std::string text = io::read_png_text(out).at(0).second;
    EXPECT_NE(text.find("Mask blur: 4, Inpaint area: Only masked, Masked area padding: 8"), std::string::npos) << text;
  }
  for (size_t i = 1; i < inside.size(); ++i) EXPECT_NE(inside[i], inside[0]) << "masked content " << i << " made no difference";
  auto r = run_sdxl(base + " --inpaint-fill paint -o " + quoted(dir / "x.png"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--inpaint-fill"), std::string::npos) << r.output;
}

class CliImg2ImgErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    io::Image8 image{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 128)};
    io::write_png(dir_ / "init.png", image);
    io::Image8 small{32, 32, 1, std::vector<uint8_t>(32 * 32, 255)};
    io::write_png(dir_ / "small.png", small);
    test::write_file(dir_ / "notes.txt", "not an image");
  }
  void expect_failure(const std::string& args, const std::string& fragment, int code) {
    auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                      " -p cat --steps 2 --seed 1 -o " + quoted(dir_ / "x.png") + " " + args);
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "x.png"));
  }
  test::TempDir dir_;
};

TEST_F(CliImg2ImgErrors, NotAnImage) { expect_failure("--init-image " + quoted(dir_ / "notes.txt"), "not a PNG, JPEG or WebP", 1); }
TEST_F(CliImg2ImgErrors, MissingImage) { expect_failure("--init-image " + quoted(dir_ / "none.png"), "none.png", 1); }
TEST_F(CliImg2ImgErrors, MaskSizeDiffers) {
  expect_failure("--init-image " + quoted(dir_ / "init.png") + " --mask " + quoted(dir_ / "small.png"), "--mask: [generate] the mask is 32x32", 2);
}
TEST_F(CliImg2ImgErrors, StrengthOutOfRange) {
  expect_failure("--init-image " + quoted(dir_ / "init.png") + " --strength 1.5", "--strength", 2);
  expect_failure("--init-image " + quoted(dir_ / "init.png") + " --strength 0", "--strength", 2);
}
TEST_F(CliImg2ImgErrors, HighNoiseFracOutOfRange) { expect_failure("--high-noise-frac 1", "--high-noise-frac", 2); }
TEST_F(CliImg2ImgErrors, RefinerThatIsNotARefiner) {
  expect_failure("-W 64 -H 64 --refiner " + quoted(test::reference_dir() / "models/tiny-sdxl-base"), "is not a refiner", 2);
}
TEST_F(CliImg2ImgErrors, MaskWithoutImage) { expect_failure("--mask " + quoted(dir_ / "small.png"), "--mask: [generate] a mask needs an init image", 2); }

}  // namespace
}  // namespace sdxl

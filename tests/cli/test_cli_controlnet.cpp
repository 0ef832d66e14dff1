// ControlNet through the CLI: every ControlNet golden case (the control, init and mask images
// written as 8-bit PNGs, exact since the cases' values are k/255), `sdxl preprocess canny` against
// the reference Canny maps, the PNG text, and the errors a user can make.
#include <gtest/gtest.h>

#include <cmath>

#include "cli/cli_runner.h"
#include "cli/golden_cli_case.h"
#include "golden_cases.h"
#include "io/png.h"
#include "cli/tensor_png.h"

namespace sdxl {
namespace {

using test::model_keys;
using test::model_path;

using test::sampler_of;
std::string number(double v) { return test::number_arg(v); }

// The case's options on the command line.
std::string case_args(const nlohmann::json& c, const fs::path& dir) {
  const auto& p = c["params"];
  const test::RawCaseFile file(c);
  const std::string kind = c["kind"];
  const auto keys = model_keys(c);
  std::string args = "generate -m " + quoted(model_path(keys[0])) + " -p '" + p["prompt"].get<std::string>() + "'";
  if (p.contains("negative_prompt")) args += " -n '" + p["negative_prompt"].get<std::string>() + "'";
  args += " --steps " + std::to_string(p["num_inference_steps"].get<int>()) + " --guidance " +
          number(p["guidance_scale"].get<double>()) + " --sampler " + sampler_of(p["scheduler"]) + " --seed " +
          std::to_string(p["seed"].get<int>());
  auto per_unit = [&](const char* key, const char* option) {
    if (!p.contains(key)) return;
    if (p[key].is_array()) {
      for (const auto& v : p[key]) args += std::string(" ") + option + " " + number(v.get<double>());
    } else {
      args += std::string(" ") + option + " " + number(p[key].get<double>());
    }
  };
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    const std::string name = kind == "multi_controlnet_txt2img" ? "control_image_" + std::to_string(i) : "control_image";
    const fs::path png = dir / (name + ".png");
    write_tensor_png(png, file[name]);
    args += " --controlnet " + quoted(model_path(keys[i + 1])) + " --control-image " + quoted(png);
  }
  per_unit("controlnet_conditioning_scale", "--control-scale");
  per_unit("control_guidance_start", "--control-start");
  per_unit("control_guidance_end", "--control-end");
  if (p.value("guess_mode", false)) args += " --guess-mode";
  if (kind == "controlnet_img2img" || kind == "controlnet_inpaint") {
    write_tensor_png(dir / "init.png", file["init_image"]);
    args += " --init-image " + quoted(dir / "init.png") + " --strength " + number(p["strength"].get<double>());
  }
  if (kind == "controlnet_inpaint") {
    write_tensor_png(dir / "mask.png", file["mask_image"]);
    args += " --mask " + quoted(dir / "mask.png");
  }
  if (kind == "controlnet_txt2img" || kind == "multi_controlnet_txt2img")
    args += " -W " + std::to_string(p["width"].get<int>()) + " -H " + std::to_string(p["height"].get<int>());
  return args + " -o " + quoted(dir / "out.png") + " --output-latents " + quoted(dir / "l.safetensors");
}

TEST(CliControlNet, EveryGoldenCaseMatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  size_t seen = 0;
  for (const char* kind : {"controlnet_txt2img", "controlnet_img2img", "controlnet_inpaint", "multi_controlnet_txt2img"})
    for (const auto& c : test::cases_of_kind(kind)) {
      SCOPED_TRACE(c["name"].get<std::string>());
      test::TempDir dir;
      const auto r = run_sdxl(case_args(c, dir.path()));
      ASSERT_EQ(r.exit_code, 0) << r.output;
      test::expect_cli_outputs_match(c, dir.path());
      // The extension's PNG text: one "ControlNet N" entry per unit, the model named with its hash.
      const std::string text = io::read_png_text(dir / "out.png").at(0).second;
      EXPECT_NE(text.find("ControlNet 0: \"Module: none, Model: tiny-sdxl-controlnet"), std::string::npos) << text;
      EXPECT_NE(text.find("Resize Mode: Crop and Resize, Processor Res: 512"), std::string::npos) << text;
      ++seen;
    }
  EXPECT_GE(seen, 6u);
}

// Canny from the command line is the reference's OpenCV map (the image's own resolution).
TEST(CliControlNet, PreprocessCannyMatchesOpenCv) {
  SDXL_REQUIRE_REFERENCE();
  for (const auto& c : test::cases_of_kind("canny")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    test::TempDir dir;
    const auto& p = c["params"];
    const auto r = run_sdxl("preprocess canny " + quoted(test::reference_dir() / c["files"]["input"].get<std::string>()) +
                            " --canny-thresholds " + number(p["low_threshold"].get<double>()) + "," +
                            number(p["high_threshold"].get<double>()) + " -o " + quoted(dir / "edges.png"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const io::Image8 got = io::read_png(dir / "edges.png");
    const io::Image8 want = io::read_png(test::reference_dir() / c["files"]["edges"].get<std::string>());
    ASSERT_EQ(got.width * got.height, want.width * want.height);
    size_t differing = 0;
    for (int64_t i = 0; i < want.width * want.height; ++i)
      differing += got.pixels[static_cast<size_t>(i * got.channels)] != want.pixels[static_cast<size_t>(i * want.channels)];
    EXPECT_EQ(differing, 0u);
  }
}

// A canny-preprocessed generation: the input photo's edges, not the photo, reach the ControlNet;
// the same edges given as the map make the same image.
TEST(CliControlNet, CannyPreprocessorIsTheMapItMakes) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("canny");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases[1];  // 64x64
  test::TempDir dir;
  const std::string input = quoted(test::reference_dir() / c["files"]["input"].get<std::string>());
  ASSERT_EQ(run_sdxl("preprocess canny " + input + " -o " + quoted(dir / "edges.png")).exit_code, 0);
  const std::string base = "generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                           " -p cat -W 64 -H 64 --steps 2 --seed 3 --controlnet " +
                           quoted(test::reference_dir() / "models/tiny-sdxl-controlnet");
  auto a = run_sdxl(base + " --control-image " + input + " --control-preprocessor canny -o " + quoted(dir / "a.png"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_sdxl(base + " --control-image " + quoted(dir / "edges.png") + " -o " + quoted(dir / "b.png"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto photo = run_sdxl(base + " --control-image " + input + " -o " + quoted(dir / "p.png"));
  ASSERT_EQ(photo.exit_code, 0) << photo.output;
  EXPECT_EQ(io::read_png(dir / "a.png").pixels, io::read_png(dir / "b.png").pixels);
  EXPECT_NE(io::read_png(dir / "a.png").pixels, io::read_png(dir / "p.png").pixels);
  const std::string text = io::read_png_text(dir / "a.png").at(0).second;
  EXPECT_NE(text.find("Module: canny"), std::string::npos) << text;
  EXPECT_NE(text.find("Threshold A: 100.0, Threshold B: 200.0"), std::string::npos) << text;
  EXPECT_NE(text.find("Pixel Perfect: True"), std::string::npos) << text;
}

// A single file without a config: its architecture read from its tensors (what they do not show from
// the base's UNet) runs as it does with the folder's config.
TEST(CliControlNet, SingleFileWithoutConfig) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  io::write_png(dir / "map.png", io::Image8{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 90)});
  const std::string base = "generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                           " -p cat -W 64 -H 64 --steps 2 --seed 4 --control-image " + quoted(dir / "map.png") +
                           " --controlnet " + quoted(model_path("tiny-sdxl-controlnet-single-fp16"));
  auto a = run_sdxl(base + " -o " + quoted(dir / "a.png"));
  ASSERT_EQ(a.exit_code, 0) << a.output;
  auto b = run_sdxl(base + " --controlnet-config " + quoted(model_path("tiny-sdxl-controlnet")) + " -o " + quoted(dir / "b.png"));
  ASSERT_EQ(b.exit_code, 0) << b.output;
  EXPECT_EQ(io::read_png(dir / "a.png").pixels, io::read_png(dir / "b.png").pixels);
}

class CliControlNetErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    io::write_png(dir_ / "map.png", io::Image8{64, 64, 3, std::vector<uint8_t>(64 * 64 * 3, 200)});
    test::write_file(dir_ / "notes.txt", "not an image");
    test::write_file(dir_ / "net.pth", "PK\x03\x04 a pickle");
  }
  void expect_failure(const std::string& args, const std::string& fragment, int code,
                      const std::string& model = "models/tiny-sdxl-base") {
    auto r = run_sdxl("generate -m " + quoted(test::reference_dir() / model) + " -p cat -W 64 -H 64 --steps 2 --seed 1 -o " +
                      quoted(dir_ / "x.png") + " " + args);
    EXPECT_EQ(r.exit_code, code) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "x.png"));
  }
  std::string net() const { return quoted(test::reference_dir() / "models/tiny-sdxl-controlnet"); }
  std::string map() const { return quoted(dir_ / "map.png"); }
  test::TempDir dir_;
};

TEST_F(CliControlNetErrors, UnpairedOptions) {
  expect_failure("--controlnet " + net(), "come in pairs", 2);
  expect_failure("--control-scale 0.5", "without --controlnet", 2);
}
TEST_F(CliControlNetErrors, ImageThatDoesNotDecode) {
  expect_failure("--controlnet " + net() + " --control-image " + quoted(dir_ / "notes.txt"), "not a PNG, JPEG or WebP", 1);
}
TEST_F(CliControlNetErrors, StartNotBeforeEnd) {
  expect_failure("--controlnet " + net() + " --control-image " + map() + " --control-start 0.6 --control-end 0.6",
                 "--control-start", 2);
}
TEST_F(CliControlNetErrors, ScaleOutOfRange) {
  expect_failure("--controlnet " + net() + " --control-image " + map() + " --control-scale 50", "--control-scale (unit 0)", 2);
}
TEST_F(CliControlNetErrors, PerUnitSettingsCountMismatch) {
  expect_failure("--controlnet " + net() + " --control-image " + map() + " --controlnet " + net() + " --control-image " +
                     map() + " --control-scale 1 --control-scale 0.5 --control-scale 0.2",
                 "--control-scale: given 3 times for 2 units", 2);
}
TEST_F(CliControlNetErrors, UnavailablePreprocessor) {
  expect_failure("--controlnet " + net() + " --control-image " + map() + " --control-preprocessor depth_midas",
                 "need networks of their own", 2);
}
TEST_F(CliControlNetErrors, DamagedTorchControlNet) {
  expect_failure("--controlnet " + quoted(dir_ / "net.pth") + " --control-image " + map(), "[zip]", 1);  // read, found damaged
}
TEST_F(CliControlNetErrors, MissingControlNet) {
  expect_failure("--controlnet " + quoted(dir_ / "none") + " --control-image " + map(), "no such file", 1);
}
TEST_F(CliControlNetErrors, RefinerAsTheModel) {
  expect_failure("--controlnet " + net() + " --control-image " + map(), "refiner", 2, "models/tiny-sdxl-refiner");
}

}  // namespace
}  // namespace sdxl

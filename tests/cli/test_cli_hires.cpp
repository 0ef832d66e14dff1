// The hires fix through the CLI: every hires_txt2img case with --hires-* options (latents within
// the case's tolerance, PNG within 2 levels), AUTOMATIC1111's PNG text, an ESRGAN model found by
// name in --upscaler-dir, and bad options named.
#include <gtest/gtest.h>

#include "cli/cli_runner.h"
#include "cli/golden_cli_case.h"
#include "io/png.h"

namespace sdxl {
namespace {

using test::reference_dir;

std::string parameters_of(const fs::path& png) {
  for (const auto& [key, value] : io::read_png_text(png))
    if (key == "parameters") return value;
  return "";
}

std::string hires_args(const nlohmann::json& c, const fs::path& dir) {
  const auto& p = c["params"];
  std::string args = "generate -m " + quoted(reference_dir() / "models/tiny-sdxl-base") + " -p " + quoted(fs::path(p["prompt"].get<std::string>()));
  if (p["negative_prompt"].is_string()) args += " -n " + quoted(fs::path(p["negative_prompt"].get<std::string>()));
  args += " -W " + std::to_string(p["width"].get<int>()) + " -H " + std::to_string(p["height"].get<int>()) +
          " --steps " + std::to_string(p["steps"].get<int>()) + " --guidance " + test::number_arg(p["guidance_scale"]) +
          " --seed " + std::to_string(p["seed"].get<uint64_t>()) + " --sampler " + test::sampler_of(p["scheduler"]) +
          " --hires-scale " + test::number_arg(p["hr_scale"]) + " --hires-upscaler " + quoted(fs::path(p["hr_upscaler"].get<std::string>())) +
          " --hires-steps " + std::to_string(p["hr_second_pass_steps"].get<int>()) + " --hires-denoise " +
          test::number_arg(p["denoising_strength"]) + " -o " + quoted(dir / "out.png") + " --output-latents " + quoted(dir / "l.safetensors");
  return args;
}

TEST(CliHires, EveryGoldenCase) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("hires_txt2img");
  ASSERT_GE(cases.size(), 9u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    test::TempDir dir;
    const auto r = run_sdxl(hires_args(c, dir.path()));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    test::expect_cli_outputs_match(c, dir.path());
    const std::string text = parameters_of(dir / "out.png");
    EXPECT_NE(text.find("Size: 64x64"), std::string::npos) << text;  // the first pass's, as A1111 writes it
    EXPECT_NE(text.find("Denoising strength: " + test::number_arg(c["params"]["denoising_strength"])), std::string::npos) << text;
    EXPECT_NE(text.find("Hires upscale: " + test::number_arg(c["params"]["hr_scale"])), std::string::npos) << text;
    EXPECT_NE(text.find("Hires upscaler: "), std::string::npos) << text;
  }
}

TEST(CliHires, ModelUpscalerByNameAndBadOptions) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const std::string base = "generate -m " + quoted(reference_dir() / "models/tiny-sdxl-base") +
                           " -p cat -W 64 -H 64 --steps 2 --seed 1 -o " + quoted(dir / "x.png");
  auto r = run_sdxl(base + " --hires-size 128x0 --hires-upscaler tiny-RealESRGAN_x2plus --upscaler-dir " +
                    quoted(reference_dir() / "models/esrgan") + " --hires-steps 2 --hires-denoise 0.5 --hires-sampler dpmpp_2m");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto png = io::read_png(dir / "x.png");
  EXPECT_EQ(png.width, 128);
  EXPECT_EQ(png.height, 128);
  const std::string text = parameters_of(dir / "x.png");
  EXPECT_NE(text.find("Hires resize: 128x0"), std::string::npos) << text;
  EXPECT_NE(text.find("Hires upscaler: tiny-RealESRGAN_x2plus"), std::string::npos) << text;
  EXPECT_NE(text.find("Hires sampler: DPM++ 2M"), std::string::npos) << text;
  EXPECT_NE(text.find("Hires steps: 2"), std::string::npos) << text;
  fs::remove(dir / "x.png");
  r = run_sdxl(base + " --hires-scale 2 --hires-upscaler 4x-Missing");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--hires-upscaler"), std::string::npos) << r.output;
  r = run_sdxl(base + " --hires-denoise 0.5");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("without --hires-scale"), std::string::npos) << r.output;
  r = run_sdxl(base + " --hires-size 9000x0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--hires-size"), std::string::npos) << r.output;
  r = run_sdxl(base + " --hires-scale 2 --hires-sampler nosuch");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--hires-sampler"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.png"));
}

}  // namespace
}  // namespace sdxl

// sdxl upscale: every esrgan_upscale case through the CLI (PNG within 2 levels), AUTOMATIC1111's
// --scale rule (int(side * scale) // 8 * 8 by passes and a Lanczos resize), tiles, bad input.
#include <gtest/gtest.h>

#include "cli/cli_runner.h"
#include "golden_cases.h"
#include "io/image_file.h"

namespace sdxl {
namespace {

using test::reference_dir;

TEST(CliUpscale, EveryGoldenCase) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("esrgan_upscale");
  ASSERT_GE(cases.size(), 3u);
  test::TempDir dir;
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& p = c["params"];
    const auto out = dir / (c["name"].get<std::string>() + ".png");
    const auto r = run_sdxl("upscale -m " + quoted(reference_dir() / p["model_file"].get<std::string>()) + " " +
                            quoted(reference_dir() / p["input_png"].get<std::string>()) + " -o " + quoted(out) +
                            " --channel-order " + p["channel_order"].get<std::string>());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const int apart = test::png_levels_apart(io::read_image(out), io::read_image(reference_dir() / p["output_png"].get<std::string>()));
    EXPECT_TRUE(apart >= 0 && apart <= 2) << apart;
  }
}

TEST(CliUpscale, ScaleFollowsAutomatic1111AndTilesBoundTheWork) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const auto model = quoted(reference_dir() / "models/esrgan/tiny-RealESRGAN_x2plus.pth");
  const auto input = quoted(reference_dir() / "cases/esrgan_x2_pth_rgb.input.png");  // 30x24
  // x3 with an x2 net: two passes (30 -> 60 -> 120), then Lanczos down to 90 // 8 * 8 = 88 by 72.
  auto r = run_sdxl("upscale -m " + model + " " + input + " -o " + quoted(dir / "x3.png") + " --scale 3 --tile 12 --tile-overlap 4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const io::Image8 x3 = io::read_image(dir / "x3.png");
  EXPECT_EQ(x3.width, 88);
  EXPECT_EQ(x3.height, 72);
  r = run_sdxl("upscale -m " + model + " " + input + " -o " + quoted(dir / "bad.png") + " --tile 8");  // overlap 8
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("overlap"), std::string::npos) << r.output;
  r = run_sdxl("upscale -m " + quoted(reference_dir() / "models/pickle/hostile/builtins_eval.ckpt") + " " + input + " -o " +
               quoted(dir / "h.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("'builtins.eval'"), std::string::npos) << r.output;
  r = run_sdxl("upscale -m " + quoted(reference_dir() / "models/tiny-sdxl-controlnet/diffusion_pytorch_model.safetensors") +
               " " + input + " -o " + quoted(dir / "c.png"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not an ESRGAN-family RRDBNet"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "bad.png") || fs::exists(dir / "h.png") || fs::exists(dir / "c.png"));
}

}  // namespace
}  // namespace sdxl

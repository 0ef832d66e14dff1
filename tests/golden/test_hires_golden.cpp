// The hires fix (kind hires_txt2img): the first pass, the latent interpolation torch 1.13 does for
// each of AUTOMATIC1111's latent modes, the Lanczos / Nearest pixel upscalers (Pillow), and the
// second pass as diffusers' img2img with a fresh generator of the same seed.
#include <gtest/gtest.h>

#include "golden/golden_requests.h"
#include "golden_cases.h"
#include "io/image_file.h"
#include "pipeline/engine.h"
#include "pipeline/stages/hires_upscale.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl {
namespace {

using test::reference_dir;

pipeline::EngineRequest hires_request(const nlohmann::json& c) {
  nlohmann::json p = c["params"];
  p["num_inference_steps"] = p["steps"];
  pipeline::EngineRequest request;
  request.generate = base_request(p);
  request.generate.seeding = rng::BatchSeeding::Shared;
  pipeline::HiresSpec hires;
  hires.scale = p["hr_scale"];
  hires.upscaler = p["hr_upscaler"];
  hires.steps = p["hr_second_pass_steps"];
  hires.denoising_strength = p["denoising_strength"];
  request.hires = hires;
  return request;
}

TEST(HiresGolden, LatentModesInterpolateAsTorch) {
  SDXL_REQUIRE_REFERENCE();
  size_t checked = 0;
  for (const auto& c : test::cases_of_kind("hires_txt2img")) {
    const auto mode = pipeline::latent_upscale_mode(c["params"]["hr_upscaler"]);
    if (!mode) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    test::RawCaseFile file(c);
    const auto& size = c["params"]["target_size_wh"];
    const Tensor got = pipeline::upscale_latents(file["first_pass_latents"], size[0], size[1], *mode, 0, 0);
    const Tensor want = file["upscaled_latents"].to(DType::F32);
    ASSERT_EQ(got.shape(), want.shape());
    // torch's own float arithmetic differs from this (separable, width first) order by up to ~1e-5.
    EXPECT_TRUE(test::all_close(got.data<float>(), want.data<float>(), static_cast<size_t>(got.numel()), 3e-5, 3e-5));
    ++checked;
  }
  EXPECT_GE(checked, 7u);
}

TEST(HiresGolden, PixelUpscalersResizeAsPillow) {
  SDXL_REQUIRE_REFERENCE();
  size_t checked = 0;
  for (const auto& c : test::cases_of_kind("hires_txt2img")) {
    if (!c["files"].contains("upscaled_image")) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const io::Image8 first = io::read_image(reference_dir() / c["files"]["first_pass_image"].get<std::string>());
    const auto& size = c["params"]["target_size_wh"];
    const io::Image8 got = pipeline::upscale_pixels(first, size[0], size[1], c["params"]["hr_upscaler"], nullptr);
    EXPECT_EQ(test::png_levels_apart(got, io::read_image(reference_dir() / c["files"]["upscaled_image"].get<std::string>())), 0);
    ++checked;
  }
  EXPECT_GE(checked, 2u);
}

TEST(HiresGolden, EveryCaseMatchesDiffusers) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("hires_txt2img");
  ASSERT_GE(cases.size(), 9u);
  pipeline::EngineOptions options;
  options.model = reference_dir() / "models/tiny-sdxl-base";
  auto engine = pipeline::Engine::load(options);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    test::RawCaseFile file(c);
    const pipeline::EngineResult result = engine->generate(hires_request(c));
    EXPECT_TRUE(test::matches(result.first_pass_latents, file["first_pass_latents"], c, "first_pass_latents"));
    EXPECT_TRUE(test::matches(result.final.latents, file["latents"], c, "latents"));
    const int apart = test::png_levels_apart(pipeline::to_8bit(result.final.images), c);
    EXPECT_TRUE(apart >= 0 && apart <= 1) << apart;
  }
}

}  // namespace
}  // namespace sdxl

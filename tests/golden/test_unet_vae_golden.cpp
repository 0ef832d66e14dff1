// UNet and VAE forwards against diffusers on every golden case (base and refiner).
#include <gtest/gtest.h>

#include "golden_cases.h"
#include "pipeline/component_loader.h"

namespace sdxl {
namespace {

TEST(UNetGolden, AllCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("unet");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto unet = pipeline::load_unet(io::PipelineFolder::open(test::model_dir(c)));
    test::CaseFile file(c);
    Arena arena;
    Tensor out = unet.forward(arena, file["sample"], c["params"]["timestep"].get<float>(), file["encoder_hidden_states"],
                              file["text_embeds"], file["time_ids"]);
    EXPECT_TRUE(test::matches(out, file["noise_pred"], c, "noise_pred"));
  }
}

TEST(VaeGolden, DecodeCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("vae_decode");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto vae = pipeline::load_vae(io::PipelineFolder::open(test::model_dir(c)));
    test::CaseFile file(c);
    Arena arena;
    EXPECT_TRUE(test::matches(vae.decode(arena, file["latents"]), file["image"], c, "image"));
  }
}

TEST(VaeGolden, EncodeCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("vae_encode");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto vae = pipeline::load_vae(io::PipelineFolder::open(test::model_dir(c)));
    test::CaseFile file(c);
    Arena arena;
    auto posterior = vae.encode(arena, file["image"]);
    EXPECT_TRUE(test::matches(posterior.mean, file["mean"], c, "mean"));
    EXPECT_TRUE(test::matches(posterior.std, file["std"], c, "std"));
    EXPECT_TRUE(test::matches(posterior.logvar, file["logvar"], c, "logvar"));
  }
}

}  // namespace
}  // namespace sdxl

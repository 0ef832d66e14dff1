// img2img, inpainting and the base + refiner ensemble of experts against diffusers.
#include <gtest/gtest.h>

#include "golden_cases.h"
#include "pipeline/sdxl_pipeline.h"

namespace sdxl {
namespace {

pipeline::GenerateRequest base_request(const nlohmann::json& p) {
  pipeline::GenerateRequest r;
  r.prompts.prompt = pipeline::PromptArg::text(p["prompt"]);
  if (p.contains("negative_prompt") && p["negative_prompt"].is_string())
    r.prompts.negative_prompt = pipeline::PromptArg::text(p["negative_prompt"]);
  r.steps = p["num_inference_steps"];
  r.guidance.scale = p.value("guidance_scale", 5.0);
  r.scheduler = p["scheduler"];
  r.scheduler_overrides = p.value("scheduler_config_overrides", nlohmann::json::object());
  if (p.contains("width")) r.width = p["width"];
  if (p.contains("height")) r.height = p["height"];
  if (p.contains("strength")) r.strength = p["strength"];
  if (p.contains("seed")) r.seed = p["seed"];
  return r;
}

TEST(PipelineGolden, Img2Img) {
  SDXL_REQUIRE_REFERENCE();
  for (const auto& c : test::cases_of_kind("img2img")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto pipe = pipeline::SdxlPipeline::load(test::model_dir(c));
    test::CaseFile file(c);
    auto r = base_request(c["params"]);
    r.init_image = file["init_image"];
    auto result = pipe.generate(r);
    EXPECT_TRUE(test::matches(result.latents, file["latents"], c, "latents"));
    EXPECT_TRUE(test::matches(result.images, file["image"], c, "image"));
  }
}

TEST(PipelineGolden, Inpaint) {
  SDXL_REQUIRE_REFERENCE();
  for (const auto& c : test::cases_of_kind("inpaint")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto pipe = pipeline::SdxlPipeline::load(test::model_dir(c));
    test::CaseFile file(c);
    auto r = base_request(c["params"]);
    r.init_image = file["init_image"];
    r.mask = file["mask_image"];
    auto result = pipe.generate(r);
    EXPECT_TRUE(test::matches(result.latents, file["latents"], c, "latents"));
    EXPECT_TRUE(test::matches(result.images, file["image"], c, "image"));
  }
}

TEST(PipelineGolden, EnsembleOfExperts) {
  SDXL_REQUIRE_REFERENCE();
  for (const auto& c : test::cases_of_kind("ensemble")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& p = c["params"];
    auto base = pipeline::SdxlPipeline::load(test::reference_dir() / "models/tiny-sdxl-base");
    auto refiner = pipeline::SdxlPipeline::load(test::reference_dir() / "models/tiny-sdxl-refiner");
    test::CaseFile file(c);
    auto r = base_request(p);
    r.seed = p["base_seed"];
    r.denoising_end = p["denoising_end"].get<double>();
    r.decode = false;
    auto base_out = base.generate(r);
    EXPECT_TRUE(test::matches(base_out.latents, file["base_latents"], c, "base_latents"));
    auto rr = base_request(p);
    rr.seed = p["refiner_seed"];
    rr.init_latents = base_out.latents;
    rr.denoising_start = p["denoising_start"].get<double>();
    rr.aesthetic_score = p["aesthetic_score"];
    rr.negative_aesthetic_score = p["negative_aesthetic_score"];
    auto refined = refiner.generate(rr);
    EXPECT_TRUE(test::matches(refined.latents, file["refiner_latents"], c, "refiner_latents"));
    EXPECT_TRUE(test::matches(refined.images, file["image"], c, "image"));
  }
}

}  // namespace
}  // namespace sdxl

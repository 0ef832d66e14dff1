// T2I-Adapter against diffusers v0.25.1: the adapter's features (T2IAdapter full_adapter_xl) and
// StableDiffusionXLAdapterPipeline (features in the UNet's down path for the first
// int(steps * adapter_conditioning_factor) steps).
#include <gtest/gtest.h>

#include <unistd.h>

#include "core/error.h"
#include "golden/pipeline_case.h"
#include "golden_cases.h"
#include "io/image_file.h"
#include "io/json_file.h"
#include "models/common/weights.h"
#include "pipeline/sdxl_pipeline.h"
#include "pipeline/sources/adapter_source.h"
#include "pipeline/stages/image_processor.h"

namespace sdxl {
namespace {

using test::model_keys;
using test::model_path;

Tensor nchw(const Tensor& nhwc) {
  Arena arena;
  return ops::nhwc_to_nchw(arena, nhwc).clone();
}

TEST(T2IAdapterGolden, Forward) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("t2i_adapter_forward");
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto adapter = pipeline::load_t2i_adapter(model_path(c["model"]));
    test::RawCaseFile file(c);
    Arena arena;
    const std::vector<Tensor> features = adapter->forward(arena, file["image"]);
    ASSERT_EQ(features.size(), 4u);
    for (size_t i = 0; i < features.size(); ++i) {
      const std::string name = "features." + std::to_string(i);
      EXPECT_TRUE(test::matches(nchw(features[i]), file[name], c, name));
    }
  }
}

// A single file without its config: the architecture read from the tensors is the folder's.
TEST(T2IAdapterGolden, ArchitectureFromTensors) {
  SDXL_REQUIRE_REFERENCE();
  const auto folder = model_path("tiny-t2i-adapter-xl");
  const io::WeightSet weights = io::open_weight_set("t2i-adapter", {folder / "diffusion_pytorch_model.safetensors"});
  const nlohmann::json inferred = pipeline::t2i_adapter_config_from_tensors(weights);
  const nlohmann::json real = io::read_json_object(folder / "config.json", "config");
  for (const char* key : {"channels", "num_res_blocks", "downscale_factor", "in_channels", "adapter_type"})
    EXPECT_EQ(inferred[key], real[key]) << key;
  const auto dir = std::filesystem::temp_directory_path() / ("sdxl-t2i-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(folder / "diffusion_pytorch_model.safetensors", dir / "adapter.safetensors");
  EXPECT_TRUE(pipeline::is_t2i_adapter(dir / "adapter.safetensors"));
  EXPECT_TRUE(pipeline::is_t2i_adapter(folder));
  EXPECT_FALSE(pipeline::is_t2i_adapter(model_path("tiny-sdxl-controlnet")));
  EXPECT_FALSE(pipeline::is_t2i_adapter(model_path("tiny-sdxl-controlnet-single-fp16")));
  const auto single = pipeline::load_t2i_adapter(dir / "adapter.safetensors");
  EXPECT_EQ(single->config().channels, (std::vector<int64_t>{32, 32, 64, 64}));
  // An SD 1.5 adapter's config is named as such.
  nlohmann::json sd15 = real;
  sd15["adapter_type"] = "full_adapter";
  try {
    io::parse_t2i_adapter_config(sd15, "sd15/config.json");
    FAIL() << "an SD 1.5 adapter config was taken";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("SD 1.5"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_THROW(pipeline::load_t2i_adapter(model_path("tiny-sdxl-controlnet")), Error);
}

void run_pipeline_case(const nlohmann::json& c) {
  SCOPED_TRACE(c["name"].get<std::string>());
  const auto& p = c["params"];
  const auto keys = model_keys(c);
  auto pipe = pipeline::SdxlPipeline::load(model_path(keys[0]));
  pipeline::GenerateRequest r = test::request_of_case(c);
  pipeline::AdapterUnit unit;
  unit.model = pipeline::load_t2i_adapter(model_path(keys[1]));
  unit.image = test::RawCaseFile(c)["adapter_image"];
  unit.scale = p["adapter_conditioning_scale"];
  unit.end = p["adapter_conditioning_factor"];
  r.adapters.push_back(unit);

  size_t acting = 0;
  for (const auto& row : pipeline::adapter_steps(r.adapters, r.steps)) acting += row[0] ? 1 : 0;
  EXPECT_EQ(acting, p["pipeline_did"]["adapter_steps"].get<size_t>());

  const pipeline::GenerateResult result = pipe.generate(r);
  test::RawCaseFile file(c);
  EXPECT_TRUE(test::matches(result.latents, file["latents"], c, "latents"));
  const int apart = test::png_levels_apart(pipeline::to_8bit(result.images), c);
  EXPECT_TRUE(apart >= 0 && apart <= 1) << apart << " PNG levels apart";
}

TEST(T2IAdapterGolden, Pipelines) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("t2i_adapter_txt2img");
  ASSERT_GE(cases.size(), 2u);
  for (const auto& c : cases) run_pipeline_case(c);
}

// Without the features the image differs (the adapter is not silently dropped), and an adapter
// whose channels do not fit the UNet is refused before a step runs.
TEST(T2IAdapterGolden, AdapterChangesTheImageAndAMisfitIsRefused) {
  SDXL_REQUIRE_REFERENCE();
  auto pipe = pipeline::SdxlPipeline::load(model_path("tiny-sdxl-base"));
  pipeline::GenerateRequest r;
  r.prompts.prompt = pipeline::PromptArg::text("a cat");
  r.width = r.height = 64;
  r.steps = 2;
  r.seed = 3;
  const Tensor plain = pipe.generate(r).latents;
  io::T2IAdapterConfig config;
  config.channels = {32, 32, 64, 64};
  config.num_res_blocks = 1;
  models::RandomWeights weights(7, 0.3f);
  pipeline::AdapterUnit unit;
  unit.model = std::make_shared<models::T2IAdapter>(models::T2IAdapter::load(config, weights));
  unit.image = Tensor::zeros(Shape{1, 3, 64, 64}, DType::F32);
  for (int64_t i = 0; i < unit.image.numel(); ++i) unit.image.data<float>()[i] = static_cast<float>(i % 7) / 6.0f;
  r.adapters = {unit};
  const Tensor steered = pipe.generate(r).latents;
  double diff = 0;
  for (int64_t i = 0; i < plain.numel(); ++i) diff = std::max(diff, double(std::abs(plain.data<float>()[i] - steered.data<float>()[i])));
  EXPECT_GT(diff, 1e-3);
  config.channels = {64, 64, 128, 128};
  unit.model = std::make_shared<models::T2IAdapter>(models::T2IAdapter::load(config, weights));
  r.adapters = {unit};
  try {
    pipe.generate(r);
    FAIL() << "an adapter of other channels ran";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("another base model"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sdxl

// `sdxl info` run as a user runs it: on both tiny reference models, and on broken copies.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_runner.h"
#include "io/pipeline_folder.h"
#include "test_support.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;


int64_t parameters_in(const fs::path& model, const std::string& component) {
  auto set = io::PipelineFolder::open(model).open_weights(component);
  int64_t total = 0;
  for (const auto& name : set.names()) total += set.record(name)->shape.numel();
  return total;
}

std::string thousands(int64_t n) {
  std::string d = std::to_string(n), out;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i && (d.size() - i) % 3 == 0) out += ',';
    out += d[i];
  }
  return out;
}

TEST(CliInfo, TinyBase) {
  SDXL_REQUIRE_REFERENCE();
  fs::path model = test::reference_dir() / "models/tiny-sdxl-base";
  auto r = run_sdxl("info " + quoted(model));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* fragment : {"StableDiffusionXLPipeline", "unet  (UNet2DConditionModel)", "vae  (AutoencoderKL)",
                               "text_encoder  (CLIPTextModel)", "text_encoder_2  (CLIPTextModelWithProjection)",
                               "tokenizer_2  (CLIPTokenizer)", "scheduler  (EulerDiscreteScheduler)",
                               "block_out_channels: [32, 32, 64]", "scaling_factor: 0.13025", "pad_token: !"})
    EXPECT_NE(r.output.find(fragment), std::string::npos) << "missing '" << fragment << "' in:\n" << r.output;
  for (const char* component : {"unet", "vae", "text_encoder", "text_encoder_2"})
    EXPECT_NE(r.output.find("parameters: " + thousands(parameters_in(model, component))), std::string::npos)
        << component << "\n" << r.output;
}

TEST(CliInfo, TinyRefinerAsJson) {
  SDXL_REQUIRE_REFERENCE();
  fs::path model = test::reference_dir() / "models/tiny-sdxl-refiner";
  auto r = run_sdxl("info --json " + quoted(model), false);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto info = nlohmann::json::parse(r.output);
  EXPECT_EQ(info["class"], "StableDiffusionXLImg2ImgPipeline");
  EXPECT_EQ(info["requires_aesthetics_score"], true);
  EXPECT_EQ(info["force_zeros_for_empty_prompt"], false);
  std::vector<std::string> names;
  int64_t total = 0;
  for (const auto& c : info["components"]) {
    names.push_back(c["name"]);
    if (c.contains("weights")) {
      EXPECT_EQ(c["weights"]["parameters"].get<int64_t>(), parameters_in(model, c["name"]));
      total += c["weights"]["parameters"].get<int64_t>();
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"scheduler", "text_encoder_2", "tokenizer_2", "unet", "vae"}));
  EXPECT_EQ(info["total_parameters"].get<int64_t>(), total);
}

class CliInfoBroken : public ::testing::Test {
 protected:
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    fs::copy(test::reference_dir() / "models/tiny-sdxl-base", dir_ / "model", fs::copy_options::recursive);
  }
  fs::path weights() const { return dir_ / "model/unet/diffusion_pytorch_model.safetensors"; }
  void expect_clean_failure(const std::string& fragment) {
    auto r = run_sdxl("info " + quoted(dir_ / "model"));
    EXPECT_EQ(r.exit_code, 1) << r.output;  // an error exit, not a crash (a signal gives -1)
    EXPECT_NE(r.output.find("sdxl: error:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << "one message expected:\n" << r.output;
  }
  test::TempDir dir_;
};

TEST_F(CliInfoBroken, TruncatedWeights) {
  fs::resize_file(weights(), fs::file_size(weights()) / 2);
  expect_clean_failure("diffusion_pytorch_model.safetensors");
}

TEST_F(CliInfoBroken, GarbageHeader) {
  std::string bytes = test::read_file(weights());
  for (size_t i = 8; i < 64; ++i) bytes[i] = '#';
  test::write_file(weights(), bytes);
  expect_clean_failure("invalid JSON");
}

TEST_F(CliInfoBroken, EmptyWeightsFile) {
  fs::resize_file(weights(), 0);
  expect_clean_failure("too short");
}

TEST_F(CliInfoBroken, MissingComponentFolder) {
  fs::remove_all(dir_ / "model/vae");
  expect_clean_failure("vae");
}

TEST_F(CliInfoBroken, UnsupportedConfigValue) {
  test::write_file(dir_ / "model/unet/config.json", R"({"act_fn": "mish"})");
  expect_clean_failure("act_fn");
}

TEST(CliUsage, BadInvocationsExitNonZero) {
  EXPECT_NE(run_sdxl("").exit_code, 0);
  EXPECT_NE(run_sdxl("info").exit_code, 0);
  EXPECT_NE(run_sdxl("frobnicate").exit_code, 0);
  auto missing = run_sdxl("info /nonexistent/model");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("/nonexistent/model"), std::string::npos) << missing.output;
  auto help = run_sdxl("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("info"), std::string::npos);
}

}  // namespace
}  // namespace sdxl

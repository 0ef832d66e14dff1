// The tensor names and shapes our model code asks for, for the real SDXL configs, against the
// manifests of the real checkpoints (diffusers layout). Any difference is listed by name.
#include <gtest/gtest.h>

#include "golden_cases.h"
#include "io/model_configs.h"
#include "models/clip/clip_text_model.h"
#include "models/unet/unet.h"
#include "models/vae/autoencoder_kl.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

std::map<std::string, Shape> manifest_shapes(const std::string& file) {
  std::ifstream in(test::reference_dir() / "real/manifests" / file);
  auto manifest = nlohmann::json::parse(in);
  std::map<std::string, Shape> shapes;
  for (const auto& t : manifest["diffusers_layout"]) {
    const auto dims = t["shape"].get<std::vector<int64_t>>();
    shapes[t["name"]] = Shape::from_range(dims.begin(), dims.end());
  }
  return shapes;
}

::testing::AssertionResult same_tensors(const std::map<std::string, Shape>& ours,
                                        const std::map<std::string, Shape>& manifest) {
  std::string problems;
  for (const auto& [name, shape] : manifest) {
    auto it = ours.find(name);
    if (it == ours.end())
      problems += "\n  missing: " + name + " " + shape.to_string();
    else if (it->second != shape)
      problems += "\n  shape of " + name + ": ours " + it->second.to_string() + ", manifest " + shape.to_string();
  }
  for (const auto& [name, shape] : ours)
    if (!manifest.count(name)) problems += "\n  unexpected: " + name + " " + shape.to_string();
  if (problems.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << problems;
}

std::map<std::string, Shape> clip_shapes(const fs::path& config) {
  models::ShapeRecorder recorder;
  models::ClipTextModel::load(io::load_clip_text_config(config), recorder);
  return recorder.shapes();
}

TEST(Manifests, RealTextEncoders) {
  SDXL_REQUIRE_REFERENCE();
  const fs::path base = test::reference_dir() / "real/stable-diffusion-xl-base-1.0";
  const fs::path refiner = test::reference_dir() / "real/stable-diffusion-xl-refiner-1.0";
  EXPECT_TRUE(same_tensors(clip_shapes(base / "text_encoder/config.json"), manifest_shapes("base_text_encoder.json")));
  EXPECT_TRUE(same_tensors(clip_shapes(base / "text_encoder_2/config.json"), manifest_shapes("base_text_encoder_2.json")));
  EXPECT_TRUE(same_tensors(clip_shapes(refiner / "text_encoder_2/config.json"),
                           manifest_shapes("refiner_text_encoder_2.json")));
}

std::map<std::string, Shape> unet_shapes(const fs::path& config) {
  models::ShapeRecorder recorder;
  models::UNet2DConditionModel::load(io::load_unet_config(config), recorder);
  return recorder.shapes();
}

std::map<std::string, Shape> vae_shapes(const fs::path& config) {
  models::ShapeRecorder recorder;
  models::AutoencoderKL::load(io::load_vae_config(config), recorder);
  return recorder.shapes();
}

TEST(Manifests, RealUNets) {
  SDXL_REQUIRE_REFERENCE();
  EXPECT_TRUE(same_tensors(unet_shapes(test::reference_dir() / "real/stable-diffusion-xl-base-1.0/unet/config.json"),
                           manifest_shapes("base_unet.json")));
  EXPECT_TRUE(same_tensors(unet_shapes(test::reference_dir() / "real/stable-diffusion-xl-refiner-1.0/unet/config.json"),
                           manifest_shapes("refiner_unet.json")));
}

TEST(Manifests, RealVae) {
  SDXL_REQUIRE_REFERENCE();
  EXPECT_TRUE(same_tensors(vae_shapes(test::reference_dir() / "real/stable-diffusion-xl-base-1.0/vae/config.json"),
                           manifest_shapes("vae.json")));
  EXPECT_TRUE(same_tensors(vae_shapes(test::reference_dir() / "real/stable-diffusion-xl-refiner-1.0/vae/config.json"),
                           manifest_shapes("vae.json")));
}

TEST(Manifests, ParameterCountsMatchTheRealModels) {
  SDXL_REQUIRE_REFERENCE();
  std::ifstream in(test::reference_dir() / "real/param_counts.json");
  auto counts = nlohmann::json::parse(in);
  auto total = [](const std::map<std::string, Shape>& shapes) {
    int64_t n = 0;
    for (const auto& [name, shape] : shapes) n += shape.numel();
    return n;
  };
  const fs::path base = test::reference_dir() / "real/stable-diffusion-xl-base-1.0";
  EXPECT_EQ(total(clip_shapes(base / "text_encoder/config.json")), counts["text_encoder"].get<int64_t>());
  EXPECT_EQ(total(clip_shapes(base / "text_encoder_2/config.json")), counts["text_encoder_2"].get<int64_t>());
  EXPECT_EQ(total(unet_shapes(base / "unet/config.json")), counts["unet_base"].get<int64_t>());
  EXPECT_EQ(total(unet_shapes(test::reference_dir() / "real/stable-diffusion-xl-refiner-1.0/unet/config.json")),
            counts["unet_refiner"].get<int64_t>());
  EXPECT_EQ(total(vae_shapes(base / "vae/config.json")), counts["vae"].get<int64_t>());
}

}  // namespace
}  // namespace sdxl

// --vae: a VAE folder or single file instead of the model's own. The tiny model's own VAE given
// back in each form decodes bit for bit as the model's; force_upcast: false runs it in bf16.
#include <gtest/gtest.h>

#include <cstring>

#include "golden/golden_requests.h"
#include "golden_cases.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "torch_file_writer.h"
#include "pipeline/engine.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

Tensor image_with(const fs::path& vae, ops::Precision precision = ops::Precision::F32,
                  const fs::path& model = test::reference_dir() / "models/tiny-sdxl-base") {
  pipeline::EngineOptions options;
  options.model = model;
  if (fs::is_regular_file(model)) options.config = test::reference_dir() / "models/tiny-sdxl-base";
  options.vae = vae;
  options.precision = precision;
  auto engine = pipeline::Engine::load(options);
  pipeline::EngineRequest request;
  request.generate = base_request({{"prompt", "a red barn"}, {"num_inference_steps", 3}, {"scheduler", "EulerDiscreteScheduler"},
                                   {"width", 64}, {"height", 64}, {"seed", 5}});
  return engine->generate(request).final.images;
}

bool identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// The VAE tensors of the tiny single-file checkpoint, written as a file of their own.
void write_vae_file(const fs::path& out, bool keep_prefix) {
  const auto file = io::SafetensorsFile::open(test::reference_dir() / "models/single-file/tiny-sdxl-base.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors;
  const std::string prefix = "first_stage_model.";
  for (const auto& r : file->records())
    if (r.name.rfind(prefix, 0) == 0) tensors.emplace_back(keep_prefix ? r.name : r.name.substr(prefix.size()), file->tensor(r));
  io::write_safetensors(out, tensors);
}

TEST(VaeOverride, TheModelsOwnVaeInEveryFormDecodesTheSame) {
  SDXL_REQUIRE_REFERENCE();
  const Tensor plain = image_with({});
  EXPECT_TRUE(identical(image_with(test::reference_dir() / "models/tiny-sdxl-base/vae"), plain));
  test::TempDir dir;
  write_vae_file(dir / "sdxl_vae.safetensors", false);
  EXPECT_TRUE(identical(image_with(dir / "sdxl_vae.safetensors"), plain));
  write_vae_file(dir / "with_prefix.safetensors", true);
  EXPECT_TRUE(identical(image_with(dir / "with_prefix.safetensors"), plain));
  // diffusers' names in one file
  fs::copy_file(test::reference_dir() / "models/tiny-sdxl-base/vae/diffusion_pytorch_model.safetensors", dir / "diffusers.safetensors");
  EXPECT_TRUE(identical(image_with(dir / "diffusers.safetensors"), plain));
}

TEST(VaeOverride, ForceUpcastFalseRunsInBf16) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const fs::path own = test::reference_dir() / "models/tiny-sdxl-base/vae";
  for (const char* name : {"upcast", "fp16-fix"}) {
    fs::create_directories(dir / name);
    fs::copy_file(own / "diffusion_pytorch_model.safetensors", dir / name / "diffusion_pytorch_model.safetensors");
    auto config = io::read_json_object(own / "config.json", "config");
    config["force_upcast"] = std::string(name) == "upcast";
    test::write_file(dir / name / "config.json", config.dump());
  }
  const Tensor upcast = image_with(dir / "upcast", ops::Precision::BF16);
  const Tensor bf16 = image_with(dir / "fp16-fix", ops::Precision::BF16);
  EXPECT_TRUE(identical(upcast, image_with({}, ops::Precision::BF16)));  // force_upcast: the model's own behaviour
  EXPECT_FALSE(identical(bf16, upcast));                                // the VAE's convolutions in bf16
  double worst = 0;
  for (int64_t i = 0; i < bf16.numel(); ++i)
    worst = std::max(worst, static_cast<double>(std::abs(bf16.data<float>()[i] - upcast.data<float>()[i])));
  EXPECT_LT(worst, 0.05);  // the same image, to bf16's precision
}

TEST(VaeOverride, BadVaesAreClearErrors) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  auto refused = [&](const fs::path& vae, const std::string& fragment) {
    try {
      image_with(vae);
      ADD_FAILURE() << vae << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  refused(dir / "vae.ckpt", "does not exist");
  test::write_file(dir / "vae.pt", "x");
  refused(dir / "vae.pt", "vae.pt");
  fs::copy_file(test::reference_dir() / "models/pickle/hostile/os_system.ckpt", dir / "hostile.ckpt");
  refused(dir / "hostile.ckpt", "'os.system'");
  refused(test::reference_dir() / "models/single-file/tiny-sdxl-base.safetensors", "whole checkpoint");
  refused(test::reference_dir() / "models/tiny-sdxl-base/unet", "_class_name");
  fs::create_directories(dir / "empty");
  refused(dir / "empty", "no config.json");
}

// Torch files where safetensors were: a single-file checkpoint saved as {"state_dict": ...} in a
// .ckpt and a bare VAE state dict in a .pt give the images of their safetensors originals.
TEST(TorchFiles, CheckpointAndVaeGiveTheSafetensorsImages) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const fs::path single = test::reference_dir() / "models/single-file/tiny-sdxl-base.safetensors";
  test::write_file(dir / "model.ckpt", test::torch_checkpoint_of(*io::SafetensorsFile::open(single), "state_dict"));
  EXPECT_TRUE(identical(image_with({}, ops::Precision::F32, dir / "model.ckpt"), image_with({}, ops::Precision::F32, single)));
  write_vae_file(dir / "vae.safetensors", false);
  test::write_file(dir / "vae.pt", test::torch_checkpoint_of(*io::SafetensorsFile::open(dir / "vae.safetensors"), ""));
  EXPECT_TRUE(identical(image_with(dir / "vae.pt"), image_with({})));
}

}  // namespace
}  // namespace sdxl

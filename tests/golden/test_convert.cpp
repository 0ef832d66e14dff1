// sdxl convert: a diffusers folder written as a single file matches the reference single files
// (made by diffusers' own export script) tensor for tensor, in fp32 and fp16; a single file
// written as a folder gives the folder's tensors back; LoRAs merged into a converted file are
// the golden fused weights.
#include <gtest/gtest.h>

#include <cstring>

#include "cli/cli_runner.h"
#include "golden_cases.h"
#include "io/safetensors.h"
#include "pipeline/sources/lora_source.h"
#include "pipeline/sources/model_convert.h"
#include "pipeline/sources/model_source.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

void expect_same_files(const fs::path& got_path, const fs::path& want_path) {
  const auto got = io::SafetensorsFile::open(got_path), want = io::SafetensorsFile::open(want_path);
  ASSERT_EQ(got->records().size(), want->records().size());
  for (const auto& r : want->records()) {
    ASSERT_TRUE(got->find(r.name)) << "missing " << r.name;
    EXPECT_TRUE(same_bytes(got->tensor(r.name), want->tensor(r))) << r.name;
  }
}

void expect_same_sources(const pipeline::ModelSource& got, const pipeline::ModelSource& want) {
  for (const char* component : {"unet", "vae", "text_encoder", "text_encoder_2"}) {
    if (!want.has(component)) continue;
    SCOPED_TRACE(component);
    ASSERT_TRUE(got.has(component));
    const auto g = got.weights(component), w = want.weights(component);
    ASSERT_EQ(g.names(), w.names());
    for (const auto& name : w.names()) EXPECT_TRUE(same_bytes(g.get(name), w.get(name))) << name;
    EXPECT_EQ(got.config(component), want.config(component));
  }
}

TEST(Convert, FolderToSingleFileMatchesTheReferenceExport) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  test::TempDir dir;
  for (const char* model : {"tiny-sdxl-base", "tiny-sdxl-refiner"}) {
    SCOPED_TRACE(model);
    const auto folder = pipeline::open_model_source(ref / "models" / model);
    pipeline::write_single_file(*folder, dir / (std::string(model) + ".safetensors"), std::nullopt);
    expect_same_files(dir / (std::string(model) + ".safetensors"), ref / "models/single-file" / (std::string(model) + ".safetensors"));
  }
  const auto base = pipeline::open_model_source(ref / "models/tiny-sdxl-base");
  pipeline::write_single_file(*base, dir / "fp16.safetensors", DType::F16);
  expect_same_files(dir / "fp16.safetensors", ref / "models/single-file/tiny-sdxl-base.fp16.safetensors");
  EXPECT_THROW(pipeline::write_single_file(*base, dir / "fp16.safetensors", DType::F16), Error);  // exists
}

TEST(Convert, RoundTripsGiveIdenticalTensors) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  test::TempDir dir;
  for (const char* model : {"tiny-sdxl-base", "tiny-sdxl-refiner"}) {
    SCOPED_TRACE(model);
    const fs::path folder = ref / "models" / model;
    const auto original = pipeline::open_model_source(folder);
    const auto single = dir / (std::string(model) + ".safetensors");
    pipeline::write_single_file(*original, single, std::nullopt);
    const auto back = dir / (std::string(model) + "-folder");
    pipeline::write_diffusers_folder(*pipeline::open_model_source(single, "", folder), back, std::nullopt);
    const auto reread = pipeline::open_model_source(back);
    expect_same_sources(*reread, *original);
    EXPECT_EQ(reread->index().requires_aesthetics_score, original->index().requires_aesthetics_score);
    EXPECT_EQ(reread->config("scheduler"), original->config("scheduler"));
  }
}

TEST(Convert, LorasBakedIntoTheFile) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  const auto cases = test::cases_of_kind("lora");
  const nlohmann::json c = cases.at(0);
  std::vector<lora::LoraSpec> loras;
  for (const auto& l : c["params"]["loras"]) loras.push_back({ref / l["file"].get<std::string>(), l["lora_scale"]});
  test::TempDir dir;
  const auto source = pipeline::with_loras(pipeline::open_model_source(test::model_dir(c)), loras);
  pipeline::write_single_file(*source, dir / "baked.safetensors", DType::F32);
  const auto baked = pipeline::open_model_source(dir / "baked.safetensors", "", test::model_dir(c));
  test::CaseFile file(c);
  for (const auto& [name, what] : c["params"]["fused_samples"].items()) {
    const std::string rest = name.substr(6), component = rest.substr(0, rest.find('.'));
    EXPECT_TRUE(test::matches(baked->weights(component).get(rest.substr(component.size() + 1)), file[name], c, name));
  }
}

TEST(Convert, ThroughTheCli) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  test::TempDir dir;
  auto r = run_sdxl("convert " + quoted(ref / "models/single-file/tiny-sdxl-base.safetensors") + " " + quoted(dir / "out") +
                    " --config " + quoted(ref / "models/tiny-sdxl-base") + " --dtype bf16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(io::SafetensorsFile::open(dir / "out/unet/diffusion_pytorch_model.safetensors")->records()[0].dtype, DType::BF16);
  EXPECT_TRUE(fs::exists(dir / "out/tokenizer_2/merges.txt"));
  r = run_sdxl("convert " + quoted(dir / "out") + " " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("exists already"), std::string::npos) << r.output;
  r = run_sdxl("convert " + quoted(dir / "out") + " " + quoted(dir / "x.safetensors") + " --dtype fp8");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_FALSE(fs::exists(dir / "x.safetensors"));
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// `sdxl convert IN.pth OUT.safetensors`: each torch checkpoint of the reference data becomes its
// safetensors twin tensor for tensor (the {"params_ema": ...} and {"state_dict": ...} wrappers
// unwrapped; old ESRGAN names kept as stored).
TEST(Convert, TorchCheckpointsBecomeSafetensorsTensorForTensor) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  test::TempDir dir;
  const auto run = run_sdxl("convert " + quoted(ref / "models/esrgan/tiny-RealESRGAN_x4plus.pth") + " " +
                                  quoted(dir / "x4.safetensors"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  expect_same_files(dir / "x4.safetensors", ref / "models/esrgan/tiny-RealESRGAN_x4plus.safetensors");

  pipeline::write_tensor_file(ref / "models/pickle/tiny-sdxl-base.vae-decoder.fp16.ckpt", dir / "vae.safetensors", std::nullopt);
  const auto got = io::SafetensorsFile::open(dir / "vae.safetensors");
  const auto single = io::SafetensorsFile::open(ref / "models/single-file/tiny-sdxl-base.fp16.safetensors");
  EXPECT_EQ(got->records().size(), 136u);
  for (const auto& r : got->records()) EXPECT_TRUE(same_bytes(got->tensor(r), single->tensor(r.name))) << r.name;

  pipeline::write_tensor_file(ref / "models/esrgan/tiny-ESRGAN_x4.old-layout.pth", dir / "old.safetensors", DType::F16);
  const auto old = io::SafetensorsFile::open(dir / "old.safetensors");
  ASSERT_NE(old->find("model.0.weight"), nullptr);
  EXPECT_EQ(old->find("model.0.weight")->dtype, DType::F16);

  const auto hostile = run_sdxl("convert " + quoted(ref / "models/pickle/hostile/os_system.ckpt") + " " +
                                      quoted(dir / "h.safetensors"));
  EXPECT_NE(hostile.exit_code, 0);
  EXPECT_NE(hostile.output.find("'os.system'"), std::string::npos) << hostile.output;
  EXPECT_FALSE(fs::exists(dir / "h.safetensors"));
}

}  // namespace
}  // namespace sdxl

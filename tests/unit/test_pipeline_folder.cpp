// The diffusers folder layout: components from model_index.json, variant selection, shards,
// and clear errors for what is missing.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/pipeline_folder.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

const char* kIndex = R"({"_class_name": "StableDiffusionXLPipeline", "unet": ["diffusers", "UNet2DConditionModel"],
                         "text_encoder": ["transformers", "CLIPTextModel"], "image_encoder": [null, null],
                         "force_zeros_for_empty_prompt": true})";

Tensor filled(Shape shape, float value) {
  Tensor t = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = value;
  return t;
}

TEST(PipelineFolder, ReadsTinyBase) {
  SDXL_REQUIRE_REFERENCE();
  auto folder = PipelineFolder::open(test::reference_dir() / "models/tiny-sdxl-base");
  EXPECT_EQ(folder.index().class_name, "StableDiffusionXLPipeline");
  EXPECT_TRUE(folder.index().force_zeros_for_empty_prompt);
  EXPECT_TRUE(folder.has("unet"));
  EXPECT_FALSE(folder.has("image_encoder"));  // [null, null] entries are absent components
  auto unet = folder.open_weights("unet");
  EXPECT_TRUE(unet.has("conv_in.weight"));
  EXPECT_EQ(unet.get("conv_in.weight").shape(), (Shape{32, 4, 3, 3}));
  auto te = folder.open_weights("text_encoder");
  EXPECT_TRUE(te.has("text_model.embeddings.token_embedding.weight"));
  auto refiner = PipelineFolder::open(test::reference_dir() / "models/tiny-sdxl-refiner");
  EXPECT_FALSE(refiner.index().force_zeros_for_empty_prompt);
  EXPECT_TRUE(refiner.index().requires_aesthetics_score);
  EXPECT_FALSE(refiner.has("text_encoder"));
}

TEST(PipelineFolder, VariantSelection) {
  TempDir dir;
  test::write_file(dir / "model_index.json", kIndex);
  fs::create_directories(dir / "unet");
  write_safetensors(dir / "unet/diffusion_pytorch_model.fp16.safetensors", {{"w", filled({2}, 1.0f).to(DType::F16)}});
  // Only the fp16 variant exists: it is used without asking.
  auto folder = PipelineFolder::open(dir.path());
  auto files = folder.weight_files("unet");
  EXPECT_EQ(files.variant, "fp16");
  EXPECT_EQ(folder.open_weights("unet").get("w").dtype(), DType::F16);
  // With plain weights present, they win unless fp16 is asked for.
  write_safetensors(dir / "unet/diffusion_pytorch_model.safetensors", {{"w", filled({2}, 1.0f)}});
  EXPECT_EQ(PipelineFolder::open(dir.path()).open_weights("unet").get("w").dtype(), DType::F32);
  EXPECT_EQ(PipelineFolder::open(dir.path(), "fp16").open_weights("unet").get("w").dtype(), DType::F16);
  // An asked-for variant that is missing is an error naming the file expected.
  try {
    PipelineFolder::open(dir.path(), "bf16").weight_files("unet");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diffusion_pytorch_model.bf16.safetensors"), std::string::npos) << e.what();
  }
}

TEST(PipelineFolder, ShardedWeights) {
  TempDir dir;
  test::write_file(dir / "model_index.json", kIndex);
  fs::create_directories(dir / "text_encoder");
  write_safetensors(dir / "text_encoder/model-00001-of-00002.safetensors", {{"a", filled({2}, 1.0f)}});
  write_safetensors(dir / "text_encoder/model-00002-of-00002.safetensors", {{"b", filled({3}, 2.0f)}});
  test::write_file(dir / "text_encoder/model.safetensors.index.json",
                   R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                                      "b": "model-00002-of-00002.safetensors"}})");
  auto set = PipelineFolder::open(dir.path()).open_weights("text_encoder");
  EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(set.get("b").data<float>()[2], 2.0f);
  EXPECT_THROW(set.get("c"), Error);

  // A shard named in the index but absent.
  test::write_file(dir / "text_encoder/model.safetensors.index.json",
                   R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "z": "model-00009-of-00009.safetensors"}})");
  EXPECT_THROW(PipelineFolder::open(dir.path()).open_weights("text_encoder"), Error);
  // A tensor the index promises that no shard has.
  test::write_file(dir / "text_encoder/model.safetensors.index.json",
                   R"({"weight_map": {"a": "model-00001-of-00002.safetensors", "zz": "model-00002-of-00002.safetensors"}})");
  EXPECT_THROW(PipelineFolder::open(dir.path()).open_weights("text_encoder"), Error);
  // Shard names may not leave the folder.
  test::write_file(dir / "text_encoder/model.safetensors.index.json", R"({"weight_map": {"a": "../x.safetensors"}})");
  EXPECT_THROW(PipelineFolder::open(dir.path()).open_weights("text_encoder"), Error);
}

TEST(PipelineFolder, DuplicateTensorAcrossShards) {
  TempDir dir;
  test::write_file(dir / "model_index.json", kIndex);
  fs::create_directories(dir / "unet");
  write_safetensors(dir / "unet/a.safetensors", {{"w", filled({2}, 1.0f)}});
  write_safetensors(dir / "unet/b.safetensors", {{"w", filled({2}, 1.0f)}});
  EXPECT_THROW(open_weight_set("unet", {dir / "unet/a.safetensors", dir / "unet/b.safetensors"}), Error);
}

TEST(PipelineFolder, ClearErrorsForMissingPieces) {
  TempDir dir;
  EXPECT_THROW(PipelineFolder::open(dir / "nope"), Error);
  EXPECT_THROW(PipelineFolder::open(dir.path()), Error);  // no model_index.json
  test::write_file(dir / "model_index.json", kIndex);
  auto folder = PipelineFolder::open(dir.path());
  try {
    folder.weight_files("unet");  // folder missing
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unet"), std::string::npos);
  }
  fs::create_directories(dir / "unet");
  try {
    folder.weight_files("unet");  // no weights inside
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diffusion_pytorch_model.safetensors"), std::string::npos) << e.what();
  }
  test::write_file(dir / "unet/diffusion_pytorch_model.bin", "x");  // torch's file, read by the weights-only reader
  EXPECT_EQ(folder.weight_files("unet").files.at(0), dir / "unet/diffusion_pytorch_model.bin");
  EXPECT_THROW(folder.config_path("unet"), Error);
  EXPECT_THROW(folder.component_dir("vae"), Error);  // not in model_index.json
  test::write_file(dir / "model_index.json", R"({"unet": ["diffusers"]})");
  EXPECT_THROW(PipelineFolder::open(dir.path()), Error);
}

}  // namespace
}  // namespace sdxl::io

namespace sdxl::io {
namespace {

// The single-file seam: part of one file's tensors, under the names a model asks for.
TEST(RenamedWeightSet, ServesStoredTensorsUnderNewNames) {
  test::TempDir dir;
  write_safetensors(dir / "all.safetensors", {{"model.diffusion_model.conv_in.weight", filled({2}, 3.0f)},
                                             {"first_stage_model.decoder.conv_in.weight", filled({3}, 4.0f)}});
  auto file = SafetensorsFile::open(dir / "all.safetensors");
  const WeightSet unet = renamed_weight_set("unet", file, {{"conv_in.weight", "model.diffusion_model.conv_in.weight"}});
  // Slices, reshapes and transposes of stored tensors.
  Tensor fused = Tensor::empty(Shape{6, 2}, DType::F32), conv = Tensor::empty(Shape{2, 2, 1, 1}, DType::F32);
  for (int i = 0; i < 12; ++i) fused.data<float>()[i] = static_cast<float>(i);
  for (int i = 0; i < 4; ++i) conv.data<float>()[i] = static_cast<float>(10 + i);
  write_safetensors(dir / "parts.safetensors", {{"in_proj", fused}, {"attn.q", conv}});
  const WeightSet parts = renamed_weight_set("te", SafetensorsFile::open(dir / "parts.safetensors"),
                                             {{"k", "in_proj", KeyTransform::QkvPart, 1},
                                              {"q", "attn.q", KeyTransform::SqueezeConv1x1},
                                              {"t", "in_proj", KeyTransform::Transpose}});
  EXPECT_EQ(parts.record("k")->shape, (Shape{2, 2}));
  EXPECT_EQ(parts.get("k").data<float>()[0], 4.0f);  // rows 2..3 of the fused [6, 2]
  EXPECT_EQ(parts.get_transient("k").data<float>()[3], 7.0f);
  EXPECT_EQ(parts.get("q").shape(), (Shape{2, 2}));
  EXPECT_EQ(parts.get("q").data<float>()[2], 12.0f);
  EXPECT_EQ(parts.record("t")->shape, (Shape{2, 6}));
  EXPECT_EQ(parts.get("t").data<float>()[1], 2.0f);  // t[0][1] = fused[1][0]
  EXPECT_EQ(parts.get("t").data<float>()[6], 1.0f);  // t[1][0] = fused[0][1]
  EXPECT_EQ(unet.size(), 1u);
  EXPECT_TRUE(unet.has("conv_in.weight"));
  EXPECT_FALSE(unet.has("model.diffusion_model.conv_in.weight"));
  EXPECT_EQ(unet.get("conv_in.weight").data<float>()[1], 3.0f);
  EXPECT_EQ(unet.component(), "unet");
  try {
    renamed_weight_set("vae", file, {{"x", "first_stage_model.missing"}});
    FAIL() << "a missing stored tensor was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("first_stage_model.missing"), std::string::npos) << e.what();
  }
  try {
    renamed_weight_set("vae", file, {{"x", "first_stage_model.decoder.conv_in.weight"},
                                     {"x", "model.diffusion_model.conv_in.weight"}});
    FAIL() << "two tensors under one name were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sdxl::io

// img2img, inpainting and the base + refiner ensemble of experts against diffusers.
#include <gtest/gtest.h>

#include <cmath>

#include "golden/golden_requests.h"
#include "golden_cases.h"
#include "pipeline/engine.h"
#include "pipeline/sdxl_pipeline.h"

namespace sdxl {
namespace {

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

// Through the engine, which holds the hand-over (the base's latents to the refiner) as the CLI,
// the C API and the server use it. The cases' denoising_end and denoising_start are one fraction.
TEST(PipelineGolden, EnsembleOfExperts) {
  SDXL_REQUIRE_REFERENCE();
  for (const auto& c : test::cases_of_kind("ensemble")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& p = c["params"];
    ASSERT_EQ(p["denoising_end"].get<double>(), p["denoising_start"].get<double>());
    for (auto memory : {pipeline::MemoryPolicy::KeepLoaded, pipeline::MemoryPolicy::OneShot}) {
      pipeline::EngineOptions options;
      options.model = test::reference_dir() / "models/tiny-sdxl-base";
      options.refiner = test::reference_dir() / "models/tiny-sdxl-refiner";
      options.memory = memory;
      auto engine = pipeline::Engine::load(options);
      test::CaseFile file(c);
      pipeline::EngineRequest request;
      request.generate = base_request(p);
      ask_for_ensemble(p, request);
      const auto result = engine->generate(request);
      EXPECT_TRUE(test::matches(result.base_latents, file["base_latents"], c, "base_latents"));
      EXPECT_TRUE(test::matches(result.final.latents, file["refiner_latents"], c, "refiner_latents"));
      EXPECT_TRUE(test::matches(result.final.images, file["image"], c, "image"));
    }
  }
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// The base with TAESD as its decoder (kind taesd_txt2img), through the engine.
TEST(PipelineGolden, TaesdDecodesTheImage) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("taesd_txt2img");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    pipeline::EngineOptions options;
    options.model = test::reference_dir() / "models/tiny-sdxl-base";
    options.taesd = test::reference_dir() / "models/tiny-taesdxl";
    auto engine = pipeline::Engine::load(options);
    pipeline::EngineRequest request;
    request.generate = base_request(c["params"]);
    const auto result = engine->generate(request);
    test::CaseFile file(c);
    EXPECT_TRUE(test::matches(result.final.latents, file["latents"], c, "latents"));
    EXPECT_TRUE(test::matches(result.final.images, file["image"], c, "image"));
    // Its previews are full-size decodes of the latents.
    EXPECT_EQ(engine->preview(result.final.latents).width, file["image"].dim(2));
  }
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// --taesd-encode: init images through the tiny autoencoder, which draws nothing from the
// generator (its latents are deterministic), so the rest of the run keeps the VAE run's noise.
TEST(PipelineGolden, TaesdEncodesInitImagesWhenAsked) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("img2img");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases[0];
  test::CaseFile file(c);
  auto run = [&](bool taesd_encode) {
    pipeline::EngineOptions options;
    options.model = test::model_dir(c);
    options.taesd = test::reference_dir() / "models/tiny-taesdxl";
    options.taesd_encode = taesd_encode;
    auto engine = pipeline::Engine::load(options);
    pipeline::EngineRequest request;
    request.generate = base_request(c["params"]);
    request.generate.init_image = file["init_image"];
    return engine->generate(request).final;
  };
  const auto vae_encoded = run(false), taesd_encoded = run(true);
  ASSERT_EQ(vae_encoded.latents.shape(), taesd_encoded.latents.shape());
  bool differ = false;
  for (int64_t i = 0; i < taesd_encoded.latents.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(taesd_encoded.latents.data<float>()[i]));
    differ = differ || taesd_encoded.latents.data<float>()[i] != vae_encoded.latents.data<float>()[i];
  }
  EXPECT_TRUE(differ);
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// Single-file checkpoints (kinds single_file, single_file_refiner): the original layout's keys
// renamed, the architecture from the case's folder (--config), through the engine.
TEST(PipelineGolden, SingleFileCheckpoints) {
  SDXL_REQUIRE_REFERENCE();
  size_t seen = 0;
  for (const char* kind : {"single_file", "single_file_refiner"})
    for (const auto& c : test::cases_of_kind(kind)) {
      SCOPED_TRACE(c["name"].get<std::string>());
      const auto& p = c["params"];
      const auto ref = test::reference_dir();
      pipeline::EngineOptions options;
      options.model = ref / p["single_file"].get<std::string>();
      options.config = ref / p["architecture_config"].get<std::string>();
      pipeline::EngineRequest request;
      request.generate = base_request(p);
      if (p.contains("refiner_single_file")) {
        options.refiner = ref / p["refiner_single_file"].get<std::string>();
        options.refiner_config = ref / p["refiner_architecture_config"].get<std::string>();
        ask_for_ensemble(p, request);
      }
      auto engine = pipeline::Engine::load(options);
      const auto result = engine->generate(request);
      test::CaseFile file(c);
      if (file.has("base_latents")) {
        EXPECT_TRUE(test::matches(result.base_latents, file["base_latents"], c, "base_latents"));
        EXPECT_TRUE(test::matches(result.final.latents, file["refiner_latents"], c, "refiner_latents"));
      } else {
        EXPECT_TRUE(test::matches(result.final.latents, file["latents"], c, "latents"));
      }
      EXPECT_TRUE(test::matches(result.final.images, file["image"], c, "image"));
      ++seen;
    }
  EXPECT_GE(seen, 2u);
}

TEST(PipelineGolden, SingleFileErrors) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  auto refused = [&](const std::filesystem::path& model, const std::filesystem::path& config, const std::string& fragment) {
    pipeline::EngineOptions options;
    options.model = model;
    options.config = config;
    try {
      pipeline::Engine::load(options);
      ADD_FAILURE() << model << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  // Without --config, SDXL 1.0's own architecture: the tiny weights do not fit it.
  refused(ref / "models/single-file/tiny-sdxl-base.safetensors", {}, "has shape");
  refused(ref / "models/single-file/tiny-sdxl-base.safetensors", ref / "models/tiny-sdxl-refiner", "is an SDXL base");
  refused(ref / "models/single-file/tiny-sdxl-refiner.safetensors", ref / "models/tiny-sdxl-base", "is an SDXL refiner");
  refused(ref / "models/loras/tiny-sdxl-base-diffusers.safetensors", ref / "models/tiny-sdxl-base", "not a single-file");
  // An EDM descendant (Playground v2.5's edm_mean / edm_std) is refused by name.
  test::TempDir dir;
  const auto file = io::SafetensorsFile::open(ref / "models/single-file/tiny-sdxl-base.safetensors");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const auto& r : file->records()) tensors.emplace_back(r.name, file->tensor(r));
  tensors.emplace_back("edm_mean", Tensor::zeros(Shape{1, 4, 1, 1}, DType::F32));
  io::write_safetensors(dir / "edm.safetensors", tensors);
  refused(dir / "edm.safetensors", ref / "models/tiny-sdxl-base", "SDXL-EDM");
}

}  // namespace
}  // namespace sdxl

#include "pipeline/sources/data_dir.h"
#include "pipeline/sources/single_file_source.h"
#include "pipeline/prompts/tokenizer_loader.h"

namespace sdxl {
namespace {

// Without --config a single file gets SDXL 1.0's configs (base or refiner by its keys) and the
// CLIP vocabulary shipped with sdxl, which tokenizes as the models' own tokenizers do.
TEST(PipelineGolden, SingleFileBuiltInConfigsAndTokenizer) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  const pipeline::SingleFileSource base(ref / "models/single-file/tiny-sdxl-base.safetensors", {});
  EXPECT_EQ(base.config("unet")["block_out_channels"], nlohmann::json({320, 640, 1280}));
  EXPECT_TRUE(base.has("text_encoder"));
  const pipeline::SingleFileSource refiner(ref / "models/single-file/tiny-sdxl-refiner.safetensors", {});
  EXPECT_TRUE(refiner.is_refiner());
  EXPECT_FALSE(refiner.has("text_encoder"));
  for (const char* name : {"tokenizer", "tokenizer_2"}) {
    const auto shipped = pipeline::load_clip_tokenizer(base.tokenizer_dir(name), base.tokenizer_vocab_dir(name));
    const auto own = pipeline::load_clip_tokenizer(ref / "models/tiny-sdxl-base" / name);
    for (const char* text : {"a photo of a cat", "Ünïcode, punctuation!!! and   spaces", ""})
      EXPECT_EQ(shipped.encode(text), own.encode(text)) << name << ": " << text;
  }
  EXPECT_TRUE(std::filesystem::exists(pipeline::data_dir() / "tokenizer/LICENSE"));
}

}  // namespace
}  // namespace sdxl

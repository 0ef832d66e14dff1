// LoRA (kind lora) against diffusers' load_lora_weights + fuse_lora: the merged weights, the
// prompt embeddings through LoRA'd text encoders, and the whole pipeline; and the long-lived
// engine's LoRA swap, which must give the plain model's image back bit for bit.
#include <gtest/gtest.h>

#include <cstring>

#include "golden/golden_requests.h"
#include "golden_cases.h"
#include "pipeline/engine.h"
#include "pipeline/lora_source.h"
#include "pipeline/prompt_encoder.h"

namespace sdxl {
namespace {

std::vector<lora::LoraSpec> loras_of(const nlohmann::json& p) {
  std::vector<lora::LoraSpec> specs;
  for (const auto& l : p["loras"]) specs.push_back({test::reference_dir() / l["file"].get<std::string>(), l["lora_scale"]});
  return specs;
}

TEST(LoraGolden, MergedWeights) {
  SDXL_REQUIRE_REFERENCE();
  size_t seen = 0;
  for (const auto& c : test::cases_of_kind("lora")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto adapted = pipeline::with_loras(pipeline::open_model_source(test::model_dir(c)), loras_of(c["params"]));
    test::CaseFile file(c);
    for (const auto& [name, what] : c["params"]["fused_samples"].items()) {
      const std::string rest = name.substr(std::strlen("fused."));
      const std::string component = rest.substr(0, rest.find('.'));
      const std::string tensor = rest.substr(component.size() + 1);
      EXPECT_TRUE(test::matches(adapted->weights(component).get(tensor), file[name], c, name));
      ++seen;
    }
  }
  EXPECT_GE(seen, 8u);
}

TEST(LoraGolden, PromptEmbeddings) {
  SDXL_REQUIRE_REFERENCE();
  for (const auto& c : test::cases_of_kind("lora")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& p = c["params"];
    const auto adapted = pipeline::with_loras(pipeline::open_model_source(test::model_dir(c)), loras_of(p));
    const auto encoder = pipeline::PromptEncoder::load(*adapted);
    pipeline::PromptRequest request;
    request.prompt = pipeline::PromptArg::text(p["prompt"]);
    request.negative_prompt = pipeline::PromptArg::text(p["negative_prompt"]);
    const auto e = encoder.encode(request);
    test::CaseFile file(c);
    EXPECT_TRUE(test::matches(e.prompt_embeds, file["prompt_embeds"], c, "prompt_embeds"));
    EXPECT_TRUE(test::matches(e.negative_prompt_embeds, file["negative_prompt_embeds"], c, "negative_prompt_embeds"));
    EXPECT_TRUE(test::matches(e.pooled_prompt_embeds, file["pooled_prompt_embeds"], c, "pooled_prompt_embeds"));
    EXPECT_TRUE(test::matches(e.negative_pooled_prompt_embeds, file["negative_pooled_prompt_embeds"], c,
                              "negative_pooled_prompt_embeds"));
  }
}

TEST(LoraGolden, Pipeline) {
  SDXL_REQUIRE_REFERENCE();
  size_t seen = 0;
  for (const auto& c : test::cases_of_kind("lora")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    pipeline::EngineOptions options;
    options.model = test::model_dir(c);
    auto engine = pipeline::Engine::load(options);
    pipeline::EngineRequest request;
    request.generate = base_request(c["params"]);
    request.loras = loras_of(c["params"]);
    const auto result = engine->generate(request);
    test::CaseFile file(c);
    EXPECT_TRUE(test::matches(result.final.latents, file["latents"], c, "latents"));
    EXPECT_TRUE(test::matches(result.final.images, file["image"], c, "image"));
    ++seen;
  }
  EXPECT_GE(seen, 3u);
}

bool identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// One engine: plain, LoRA A (the golden image), LoRA B, A again, then none: the plain image bit
// for bit; and a <lora:NAME:W> tag in the prompt is the same request as the explicit LoRA.
TEST(LoraGolden, SwapInALongLivedEngineRestoresTheWeightsExactly) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("lora");
  ASSERT_GE(cases.size(), 3u);
  const auto& a = cases[0];
  const auto ref = test::reference_dir();
  pipeline::EngineOptions options;
  options.model = test::model_dir(a);
  options.lora_dir = ref / "models/loras";
  auto engine = pipeline::Engine::load(options);
  pipeline::EngineRequest request;
  request.generate = base_request(a["params"]);
  const Tensor plain = engine->generate(request).final.images;
  request.loras = loras_of(a["params"]);
  const Tensor with_a = engine->generate(request).final.images;
  EXPECT_TRUE(test::matches(with_a, test::CaseFile(a)["image"], a, "image"));
  EXPECT_FALSE(identical(with_a, plain));
  request.loras = {{ref / "models/loras/tiny-sdxl-base-diffusers.safetensors", 0.8}};
  EXPECT_FALSE(identical(engine->generate(request).final.images, with_a));
  request.loras.clear();
  EXPECT_TRUE(identical(engine->generate(request).final.images, plain));

  // The same LoRA as a prompt tag (removed from the text before encoding).
  const lora::LoraSpec spec = loras_of(a["params"]).at(0);
  pipeline::EngineRequest tagged;
  tagged.generate = base_request(a["params"]);
  tagged.generate.prompts.prompt = pipeline::PromptArg::text(a["params"]["prompt"].get<std::string>() + "<lora:" +
                                                             spec.path.stem().string() + ":1>");
  const auto result = engine->generate(tagged);
  EXPECT_TRUE(identical(result.final.images, with_a));
  ASSERT_EQ(result.loras.size(), 1u);
  EXPECT_EQ(result.loras[0].path, spec.path);
}

TEST(LoraGolden, BadLorasAreClearErrors) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  const auto base = pipeline::open_model_source(ref / "models/tiny-sdxl-base");
  const auto refiner = pipeline::open_model_source(ref / "models/tiny-sdxl-refiner");
  auto refused = [](const std::function<void()>& f, const std::string& fragment) {
    try {
      f();
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  // A base LoRA on the refiner: its CLIP-L modules (and more) match nothing there.
  refused([&] { pipeline::with_loras(refiner, {{ref / "models/loras/tiny-sdxl-base-kohya-locon.safetensors", 1.0}}); },
          "match no layer of this model");
  // A checkpoint is not a LoRA.
  refused([&] { pipeline::with_loras(base, {{ref / "models/single-file/tiny-sdxl-base.safetensors", 1.0}}); },
          "no LoRA format");
  refused([&] { pipeline::with_loras(base, {{ref / "models/loras/missing.safetensors", 1.0}}); }, "missing.safetensors");
  refused([&] { pipeline::with_loras(base, {{"lora.ckpt", 1.0}}); }, "pickled");
}

}  // namespace
}  // namespace sdxl

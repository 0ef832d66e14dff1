// LoRA (kind lora) against diffusers' load_lora_weights + fuse_lora: the merged weights, the
// prompt embeddings through LoRA'd text encoders, and the whole pipeline; and the long-lived
// engine's LoRA swap, which must give the plain model's image back bit for bit.
#include <gtest/gtest.h>

#include <cstring>

#include "golden/golden_requests.h"
#include "golden_cases.h"
#include "io/weight_set.h"
#include "pipeline/engine.h"
#include "pipeline/sources/lora_source.h"
#include "pipeline/prompts/prompt_encoder.h"
#include "random_tensor.h"
#include "torch_file_writer.h"

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

// One engine: plain, LoRA A (the golden image), LoRA B, then none: the plain image bit for bit,
// all without reading the checkpoint again; and a <lora:NAME:W> tag in the prompt is the same
// request as the explicit LoRA.
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
  const uint64_t reads = io::tensors_read();
  request.loras = loras_of(a["params"]);
  const Tensor with_a = engine->generate(request).final.images;
  EXPECT_TRUE(test::matches(with_a, test::CaseFile(a)["image"], a, "image"));
  EXPECT_FALSE(identical(with_a, plain));
  request.loras = {{ref / "models/loras/tiny-sdxl-base-diffusers.safetensors", 0.8}};
  EXPECT_FALSE(identical(engine->generate(request).final.images, with_a));
  request.loras.clear();
  EXPECT_TRUE(identical(engine->generate(request).final.images, plain));
  // Every change was made in memory, from the loaded layers: no tensor of the checkpoint was read.
  EXPECT_EQ(io::tensors_read(), reads);

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

// A refiner LoRA named by SGM blocks of index 10 and above (which diffusers v0.25.1 mis-parses):
// each layer merged by the rule W + s * alpha/rank * up . down, and the refiner runs with it.
TEST(LoraGolden, RefinerLoraWithBlockIndicesAboveTen) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  const auto refiner = pipeline::open_model_source(ref / "models/tiny-sdxl-refiner");
  struct Module {
    std::string key, layer, component;
  };
  const std::vector<Module> modules = {
      {"lora_unet_output_blocks_11_0_in_layers_2", "up_blocks.3.resnets.2.conv1", "unet"},
      {"lora_unet_input_blocks_11_0_out_layers_3", "down_blocks.3.resnets.1.conv2", "unet"},
      {"lora_unet_output_blocks_7_1_transformer_blocks_0_attn2_to_k", "up_blocks.2.attentions.1.transformer_blocks.0.attn2.to_k", "unet"},
      {"lora_te2_text_model_encoder_layers_0_self_attn_q_proj", "text_model.encoder.layers.0.self_attn.q_proj", "text_encoder_2"}};
  std::vector<std::pair<std::string, Tensor>> tensors;
  uint32_t seed = 7;
  for (const auto& m : modules) {
    const Shape w = refiner->weights(m.component).record(m.layer + ".weight")->shape;
    const int64_t rank = 4;
    Shape down = w, up{w[0], rank};
    down[0] = rank;
    if (w.rank() == 4) up = Shape{w[0], rank, 1, 1};
    tensors.emplace_back(m.key + ".lora_down.weight", test::random_tensor(down, seed++));
    tensors.emplace_back(m.key + ".lora_up.weight", test::random_tensor(up, seed++));
    Tensor alpha = Tensor::empty(Shape{}, DType::F32);
    alpha.data<float>()[0] = 2.0f;
    tensors.emplace_back(m.key + ".alpha", alpha);
  }
  test::TempDir dir;
  io::write_safetensors(dir / "refiner-lora.safetensors", tensors);
  const double s = 0.75;
  const auto adapted = pipeline::with_loras(refiner, {{dir / "refiner-lora.safetensors", s}});
  for (size_t i = 0; i < modules.size(); ++i) {
    SCOPED_TRACE(modules[i].key);
    const Tensor original = refiner->weights(modules[i].component).get(modules[i].layer + ".weight").to(DType::F32);
    const Tensor merged = adapted->weights(modules[i].component).get(modules[i].layer + ".weight");
    const Tensor& down = tensors[3 * i].second;
    const Tensor& up = tensors[3 * i + 1].second;
    const int64_t out = original.dim(0), cols = original.numel() / out;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t j = 0; j < cols; ++j) {
        double d = 0;
        for (int64_t r = 0; r < 4; ++r) d += up.data<float>()[o * 4 + r] * down.data<float>()[r * cols + j];
        const double want = original.data<float>()[o * cols + j] + s * 2.0 / 4.0 * d;
        ASSERT_NEAR(merged.data<float>()[o * cols + j], want, 1e-5) << o << "," << j;
      }
  }
  // The refiner with its LoRA, through an engine (img2img on a base image's latents).
  pipeline::EngineOptions options;
  options.model = ref / "models/tiny-sdxl-base";
  options.refiner = ref / "models/tiny-sdxl-refiner";
  auto engine = pipeline::Engine::load(options);
  pipeline::EngineRequest request;
  request.generate = base_request({{"prompt", "a boat"}, {"num_inference_steps", 4}, {"scheduler", "EulerDiscreteScheduler"},
                                   {"width", 64}, {"height", 64}, {"seed", 3}});
  request.refiner.mode = pipeline::RefinerMode::Ensemble;
  const Tensor plain = engine->generate(request).final.images;
  request.refiner_loras = {{dir / "refiner-lora.safetensors", s}};
  const Tensor with_lora = engine->generate(request).final.images;
  EXPECT_FALSE(identical(plain, with_lora));
  request.refiner_loras.clear();
  EXPECT_TRUE(identical(engine->generate(request).final.images, plain));
}

// A LoRA shipped as a torch .pt merges exactly as its safetensors original.
TEST(LoraGolden, TorchFileLoraMergesAsItsSafetensors) {
  SDXL_REQUIRE_REFERENCE();
  const auto ref = test::reference_dir();
  test::TempDir dir;
  const auto original = ref / "models/loras/tiny-sdxl-base-kohya-locon.safetensors";
  test::write_file(dir / "locon.pt", test::torch_checkpoint_of(*io::SafetensorsFile::open(original), ""));
  const auto base = pipeline::open_model_source(ref / "models/tiny-sdxl-base");
  const auto a = pipeline::with_loras(base, {{original, 0.8}}), b = pipeline::with_loras(base, {{dir / "locon.pt", 0.8}});
  size_t changed = 0;
  for (const char* component : {"unet", "text_encoder"}) {
    const io::WeightSet wa = a->weights(component), wb = b->weights(component), plain = base->weights(component);
    for (const auto& name : wa.names()) {
      const Tensor x = wa.get(name), y = wb.get(name);
      ASSERT_EQ(x.nbytes(), y.nbytes()) << name;
      EXPECT_EQ(std::memcmp(x.raw(), y.raw(), x.nbytes()), 0) << name;
      const Tensor p = plain.get(name);
      changed += p.dtype() == x.dtype() && p.nbytes() == x.nbytes() && std::memcmp(p.raw(), x.raw(), x.nbytes()) != 0;
    }
  }
  EXPECT_GT(changed, 0u);
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
  refused([&] { pipeline::with_loras(base, {{"lora.ckpt", 1.0}}); }, "lora.ckpt");
  refused([&] { pipeline::with_loras(base, {{ref / "models/pickle/hostile/os_system.ckpt", 1.0}}); }, "'os.system'");
}

}  // namespace
}  // namespace sdxl

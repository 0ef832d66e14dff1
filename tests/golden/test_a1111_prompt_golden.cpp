// AUTOMATIC1111's prompt embeddings (chunks, emphasis with the mean restored, pooled from the
// first chunk) against the webui's own code on the tiny base; textual inversion against a plain
// word; the limits of the syntax.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "golden_cases.h"
#include "io/safetensors.h"
#include "pipeline/prompts/prompt_chunks.h"
#include "pipeline/stages/image_processor.h"
#include "pipeline/prompts/prompt_encoder.h"
#include "pipeline/sdxl_pipeline.h"
#include "pipeline/prompts/tokenizer_loader.h"

namespace sdxl {
namespace {

pipeline::PromptRequest a1111(const std::string& prompt) {
  pipeline::PromptRequest r;
  r.prompt = pipeline::PromptArg::text(prompt);
  r.syntax = pipeline::PromptSyntax::A1111;
  r.classifier_free_guidance = false;
  return r;
}

TEST(A1111PromptGolden, EmbeddingsMatchTheWebui) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("a1111_prompt_embeds");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const pipeline::FolderSource source(test::model_dir(c), "");
    const auto encoder = pipeline::PromptEncoder::load(source);
    test::CaseFile file(c);
    // The chunks the encoders receive.
    const auto tok = pipeline::load_clip_tokenizer(source.tokenizer_dir("tokenizer"));
    const auto chunks = pipeline::chunk_prompt(tokenizer::parse_prompt_attention(c["params"]["prompt"]), tok).chunks;
    ASSERT_EQ(static_cast<int64_t>(chunks.size()), c["params"]["chunks"].get<int64_t>());
    const Tensor ids = file["input_ids"].to(DType::I64), ids_2 = file["input_ids_2"].to(DType::I64);
    const Tensor multipliers = file["multipliers"].to(DType::F32);
    for (size_t k = 0; k < chunks.size(); ++k)
      for (size_t t = 0; t < 77; ++t) {
        const size_t at = k * 77 + t;
        EXPECT_EQ(chunks[k].ids[t], ids.data<int64_t>()[at]) << "chunk " << k << " token " << t;
        EXPECT_EQ(pipeline::ids_after_first_eos_zeroed(chunks[k].ids, tok.eos_id())[t], ids_2.data<int64_t>()[at]);
        EXPECT_NEAR(chunks[k].multipliers[t], multipliers.data<float>()[at], 1e-6);
      }
    const auto out = encoder.encode(a1111(c["params"]["prompt"]));
    EXPECT_TRUE(test::matches(out.prompt_embeds, file["prompt_embeds"], c, "prompt_embeds"));
    EXPECT_TRUE(test::matches(out.pooled_prompt_embeds, file["pooled_prompt_embeds"], c, "pooled_prompt_embeds"));
  }
}

// The emphasis rule by a plain loop, per encoder (each restores its own mean): z * m, then
// z * (mean(z) / mean(z * m)) over the chunk.
TEST(A1111PromptGolden, EmphasisIsThePlainLoopRule) {
  SDXL_REQUIRE_REFERENCE();
  const pipeline::FolderSource source(test::reference_dir() / "models/tiny-sdxl-base", "");
  const auto encoder = pipeline::PromptEncoder::load(source);
  const auto plain = encoder.encode(a1111("a red car"));
  const auto weighted = encoder.encode(a1111("a (red:1.5) car"));
  const Tensor& z = plain.prompt_embeds;  // [1, 77, D1 + D2]: the same tokens, unweighted
  const int64_t d = z.dim(2), d1 = source.config("text_encoder")["hidden_size"].get<int64_t>();
  std::vector<double> m(77, 1.0);
  m[2] = 1.5;  // BOS, "a", "red"
  Tensor want = Tensor::empty(z.shape(), DType::F32);
  for (auto [from, to] : {std::pair<int64_t, int64_t>{0, d1}, {d1, d}}) {
    double mean = 0, weighted_mean = 0;
    for (int64_t t = 0; t < 77; ++t)
      for (int64_t h = from; h < to; ++h) {
        mean += z.data<float>()[t * d + h];
        weighted_mean += z.data<float>()[t * d + h] * m[static_cast<size_t>(t)];
      }
    for (int64_t t = 0; t < 77; ++t)
      for (int64_t h = from; h < to; ++h)
        want.data<float>()[t * d + h] =
            static_cast<float>(z.data<float>()[t * d + h] * m[static_cast<size_t>(t)] * mean / weighted_mean);
  }
  EXPECT_TRUE(test::all_close(weighted.prompt_embeds.data<float>(), want.data<float>(), static_cast<size_t>(want.numel()), 1e-5, 1e-4));
  EXPECT_TRUE(test::all_close(weighted.pooled_prompt_embeds.data<float>(), plain.pooled_prompt_embeds.data<float>(),
                              static_cast<size_t>(plain.pooled_prompt_embeds.numel()), 0, 0));  // pooled is unweighted
}

TEST(A1111PromptGolden, ChunksConcatenateAndNegativesPad) {
  SDXL_REQUIRE_REFERENCE();
  const auto encoder = pipeline::PromptEncoder::load(pipeline::FolderSource(test::reference_dir() / "models/tiny-sdxl-base", ""));
  for (int k : {1, 2, 3}) {
    std::string prompt = "a cat";
    for (int i = 1; i < k; ++i) prompt += " BREAK a dog";
    auto request = a1111(prompt);
    request.classifier_free_guidance = true;
    request.negative_prompt = pipeline::PromptArg::text("blurry");
    const auto out = encoder.encode(request);
    EXPECT_EQ(out.prompt_embeds.dim(1), 77 * k);
    EXPECT_EQ(out.negative_prompt_embeds.shape(), out.prompt_embeds.shape());
  }
  // An empty negative is zeros (the webui's SDXL conditioner), padded with the empty prompt's encoding.
  auto request = a1111("a cat BREAK a dog");
  request.classifier_free_guidance = true;
  const auto out = encoder.encode(request);
  const int64_t d = out.prompt_embeds.dim(2);
  for (int64_t i = 0; i < 77 * d; ++i) ASSERT_EQ(out.negative_prompt_embeds.data<float>()[i], 0.0f);
  const auto empty = encoder.encode(a1111("")).prompt_embeds;
  EXPECT_TRUE(test::all_close(out.negative_prompt_embeds.data<float>() + 77 * d, empty.data<float>(),
                              static_cast<size_t>(77 * d), 0, 0));
  for (int64_t i = 0; i < out.negative_pooled_prompt_embeds.numel(); ++i)
    ASSERT_EQ(out.negative_pooled_prompt_embeds.data<float>()[i], 0.0f);
}

// An embedding whose vectors are the token embeddings of "cat" gives exactly what "cat" gives.
TEST(A1111PromptGolden, TextualInversionTakesTheTokenPlaces) {
  SDXL_REQUIRE_REFERENCE();
  const auto dir = test::reference_dir() / "models/tiny-sdxl-base";
  const pipeline::FolderSource source(dir, "");
  const auto encoder = pipeline::PromptEncoder::load(source);
  const auto tok = pipeline::load_clip_tokenizer(source.tokenizer_dir("tokenizer"));
  const int32_t cat = tok.token_ids("cat").at(0);
  auto row_of = [&](const char* component) {
    const auto weights = source.weights(component);
    const Tensor table = weights.get("text_model.embeddings.token_embedding.weight").to(DType::F32);
    const int64_t h = table.dim(1);
    Tensor row = Tensor::empty(Shape{1, h}, DType::F32);
    std::copy(table.data<float>() + cat * h, table.data<float>() + (cat + 1) * h, row.data<float>());
    return row;
  };
  test::TempDir embeddings;
  io::write_safetensors(embeddings / "mytoken.safetensors", {{"clip_l", row_of("text_encoder")}, {"clip_g", row_of("text_encoder_2")}});
  auto with_embedding = a1111("a photo of a mytoken, (mytoken:1.2)");
  with_embedding.embedding_dir = embeddings.path();
  const auto got = encoder.encode(with_embedding);
  const auto want = encoder.encode(a1111("a photo of a cat, (cat:1.2)"));
  EXPECT_TRUE(test::all_close(got.prompt_embeds.data<float>(), want.prompt_embeds.data<float>(),
                              static_cast<size_t>(want.prompt_embeds.numel()), 0, 0));
  EXPECT_TRUE(test::all_close(got.pooled_prompt_embeds.data<float>(), want.pooled_prompt_embeds.data<float>(),
                              static_cast<size_t>(want.pooled_prompt_embeds.numel()), 0, 0));
  // Without the folder the name is just text.
  EXPECT_FALSE(test::all_close(encoder.encode(a1111("a photo of a mytoken, (mytoken:1.2)")).prompt_embeds.data<float>(),
                               want.prompt_embeds.data<float>(), static_cast<size_t>(want.prompt_embeds.numel()), 0, 0));

  // An embedding for other encoders (wrong widths) is refused by name.
  io::write_safetensors(embeddings / "wide.safetensors", {{"clip_l", Tensor::zeros(Shape{2, 7}, DType::F32)},
                                                           {"clip_g", Tensor::zeros(Shape{2, 9}, DType::F32)}});
  auto wide = a1111("a wide photo");
  wide.embedding_dir = embeddings.path();
  try {
    encoder.encode(wide);
    FAIL() << "an embedding of the wrong width was used";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wide"), std::string::npos) << e.what();
  }
}

TEST(A1111PromptGolden, MoreThanTwentyChunksIsRefused) {
  SDXL_REQUIRE_REFERENCE();
  const auto encoder = pipeline::PromptEncoder::load(pipeline::FolderSource(test::reference_dir() / "models/tiny-sdxl-base", ""));
  std::string prompt = "x";
  for (int i = 0; i < 20; ++i) prompt += " BREAK x";
  try {
    encoder.encode(a1111(prompt));
    FAIL() << "21 chunks were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("20 chunks"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// The UNet's cross-attention takes 77 x k tokens: a whole generation with 1, 2 and 3 chunks.
TEST(A1111PromptGolden, PipelineRunsOnOneTwoAndThreeChunks) {
  SDXL_REQUIRE_REFERENCE();
  auto pipe = pipeline::SdxlPipeline::load(test::reference_dir() / "models/tiny-sdxl-base");
  std::vector<std::vector<uint8_t>> images;
  for (int k : {1, 2, 3}) {
    SCOPED_TRACE(k);
    std::string prompt = "a (red:1.2) car";
    for (int i = 1; i < k; ++i) prompt += " BREAK [a blue sky]";
    pipeline::GenerateRequest r;
    r.prompts.prompt = pipeline::PromptArg::text(prompt);
    r.prompts.negative_prompt = pipeline::PromptArg::text("blurry");
    r.prompts.syntax = pipeline::PromptSyntax::A1111;
    r.width = r.height = 64;
    r.steps = 2;
    r.seed = 5;
    const auto result = pipe.generate(r);
    ASSERT_EQ(result.images.dim(1), 64);
    for (int64_t i = 0; i < result.images.numel(); ++i) ASSERT_TRUE(std::isfinite(result.images.data<float>()[i]));
    images.push_back(pipeline::to_8bit(result.images));
  }
  EXPECT_NE(images[0], images[1]);
  EXPECT_NE(images[1], images[2]);
}

}  // namespace
}  // namespace sdxl

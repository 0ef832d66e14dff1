// encode_prompt against diffusers' StableDiffusionXLPipeline.encode_prompt on every golden case.
#include <gtest/gtest.h>

#include "core/error.h"
#include "golden_cases.h"
#include "pipeline/prompts/prompt_encoder.h"

namespace sdxl {
namespace {

pipeline::PromptArg arg(const nlohmann::json& value) {
  if (value.is_null()) return {};
  if (value.is_string()) return pipeline::PromptArg::text(value.get<std::string>());
  return pipeline::PromptArg::list(value.get<std::vector<std::string>>());
}

TEST(EncodePromptGolden, AllCases) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("encode_prompt");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto encoder = pipeline::PromptEncoder::load(pipeline::FolderSource(test::model_dir(c), ""));
    const auto& p = c["params"];
    pipeline::PromptRequest request;
    request.prompt = arg(p["prompt"]);
    request.prompt_2 = arg(p["prompt_2"]);
    request.negative_prompt = arg(p["negative_prompt"]);
    request.negative_prompt_2 = arg(p["negative_prompt_2"]);
    request.num_images_per_prompt = p["num_images_per_prompt"];
    request.classifier_free_guidance = p["do_classifier_free_guidance"];
    if (!p["clip_skip"].is_null()) request.clip_skip = p["clip_skip"].get<int>();
    auto out = encoder.encode(request);
    test::CaseFile file(c);
    EXPECT_TRUE(test::matches(out.prompt_embeds, file["prompt_embeds"], c, "prompt_embeds"));
    EXPECT_TRUE(test::matches(out.pooled_prompt_embeds, file["pooled_prompt_embeds"], c, "pooled_prompt_embeds"));
    if (file.has("negative_prompt_embeds")) {
      EXPECT_TRUE(test::matches(out.negative_prompt_embeds, file["negative_prompt_embeds"], c, "negative_prompt_embeds"));
      EXPECT_TRUE(test::matches(out.negative_pooled_prompt_embeds, file["negative_pooled_prompt_embeds"], c,
                                "negative_pooled_prompt_embeds"));
    } else {
      EXPECT_FALSE(out.negative_prompt_embeds.defined());
    }
  }
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

// The refiner has text_encoder_2 only, with the same weights as the base's. So its prompt
// embeddings are the encoder-2 columns of the base's, and prompt_2 is ignored (diffusers zips
// [prompt, prompt_2] with the one encoder present).
Tensor last_columns(const Tensor& t, int64_t from) {
  const int64_t c = t.dim(-1), rows = t.numel() / c;
  Shape shape = t.shape();
  shape[-1] = c - from;
  Tensor out = Tensor::empty(shape, DType::F32);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = from; i < c; ++i) out.data<float>()[r * (c - from) + i - from] = t.data<float>()[r * c + i];
  return out;
}

nlohmann::json case_named(const std::string& name) {
  for (const auto& c : test::cases_of_kind("encode_prompt"))
    if (c["name"] == name) return c;
  return {};
}

TEST(EncodePromptGolden, RefinerUsesEncoder2OnlyAndIgnoresPrompt2) {
  SDXL_REQUIRE_REFERENCE();
  const auto only = case_named("encode_prompt_only");
  const auto empty_negative = case_named("encode_prompt_long");  // its negative_prompt is ""
  ASSERT_FALSE(only.is_null() || empty_negative.is_null()) << "reference cases renamed";
  auto refiner = pipeline::PromptEncoder::load(pipeline::FolderSource(test::reference_dir() / "models/tiny-sdxl-refiner", ""));
  EXPECT_FALSE(refiner.has_first_encoder());
  pipeline::PromptRequest request;
  request.prompt = pipeline::PromptArg::text("a photo of a cat");
  request.prompt_2 = pipeline::PromptArg::text("something else entirely");
  auto out = refiner.encode(request);
  test::CaseFile base(only);
  const int64_t d1 = base["prompt_embeds"].dim(-1) - out.prompt_embeds.dim(-1);
  EXPECT_TRUE(test::matches(out.prompt_embeds, last_columns(base["prompt_embeds"], d1), only, "refiner prompt_embeds"));
  EXPECT_TRUE(test::matches(out.pooled_prompt_embeds, base["pooled_prompt_embeds"], only, "refiner pooled"));
  // force_zeros_for_empty_prompt is false for the refiner: no negative prompt means "" encoded.
  test::CaseFile with_empty(empty_negative);
  EXPECT_TRUE(test::matches(out.negative_prompt_embeds, last_columns(with_empty["negative_prompt_embeds"], d1),
                            empty_negative, "refiner negative_prompt_embeds"));
  EXPECT_TRUE(test::matches(out.negative_pooled_prompt_embeds, with_empty["negative_pooled_prompt_embeds"],
                            empty_negative, "refiner negative pooled"));
}

TEST(EncodePrompt, BadRequests) {
  SDXL_REQUIRE_REFERENCE();
  auto encoder = pipeline::PromptEncoder::load(pipeline::FolderSource(test::reference_dir() / "models/tiny-sdxl-base", ""));
  pipeline::PromptRequest request;
  request.prompt = pipeline::PromptArg::list({"a", "b"});
  request.negative_prompt = pipeline::PromptArg::list({"x", "y", "z"});
  EXPECT_THROW(encoder.encode(request), Error);  // batch sizes differ
  request.negative_prompt = {};
  request.prompt = pipeline::PromptArg::text("bad \xff utf-8");
  try {
    encoder.encode(request);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
  request.prompt = pipeline::PromptArg::text("ok");
  request.clip_skip = 10;  // more than the 3 layers of the tiny encoders
  EXPECT_THROW(encoder.encode(request), Error);
}

}  // namespace
}  // namespace sdxl

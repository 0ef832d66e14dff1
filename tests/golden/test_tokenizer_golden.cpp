// Both SDXL tokenizers against transformers' CLIPTokenizer on the reference prompts: ids of
// every prompt (padded and truncated to 77), untruncated ids, and the BPE tokens themselves.
#include <gtest/gtest.h>

#include "golden_cases.h"
#include "pipeline/prompts/tokenizer_loader.h"

namespace sdxl {
namespace {

std::vector<int32_t> row(const Tensor& ids, int64_t r) {
  std::vector<int32_t> out;
  for (int64_t i = 0; i < ids.dim(1); ++i) out.push_back(static_cast<int32_t>(ids.data<int64_t>()[r * ids.dim(1) + i]));
  return out;
}

TEST(TokenizerGolden, AllPromptsBothTokenizers) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("tokenizer");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const auto model = test::model_dir(c);
    auto tok1 = pipeline::load_clip_tokenizer(model / "tokenizer");
    auto tok2 = pipeline::load_clip_tokenizer(model / "tokenizer_2");
    test::CaseFile file(c);
    Tensor ids1 = file["input_ids_1"], ids2 = file["input_ids_2"];
    const auto& prompts = c["params"]["prompts"];
    ASSERT_EQ(ids1.dim(0), static_cast<int64_t>(prompts.size()));
    for (size_t p = 0; p < prompts.size(); ++p) {
      const std::string prompt = prompts[p];
      SCOPED_TRACE("prompt " + std::to_string(p) + ": '" + prompt + "'");
      EXPECT_EQ(tok1.encode(prompt), row(ids1, static_cast<int64_t>(p)));
      EXPECT_EQ(tok2.encode(prompt), row(ids2, static_cast<int64_t>(p)));
      if (c.contains("untruncated_ids_1")) {
        EXPECT_EQ(tok1.encode_untruncated(prompt), c["untruncated_ids_1"][p].get<std::vector<int32_t>>());
        EXPECT_EQ(tok2.encode_untruncated(prompt), c["untruncated_ids_2"][p].get<std::vector<int32_t>>());
      }
      if (c.contains("tokens_1")) {  // untruncated, with BOS and EOS
        std::vector<std::string> tokens = {"<|startoftext|>"};
        for (auto& t : tok1.tokenize(prompt)) tokens.push_back(t);
        tokens.push_back("<|endoftext|>");
        EXPECT_EQ(tokens, c["tokens_1"][p].get<std::vector<std::string>>());
      }
    }
  }
}

}  // namespace
}  // namespace sdxl

// AUTOMATIC1111's emphasis parser against the webui's own outputs (a1111_prompt_parse), and its
// refusals of weights that are not numbers or out of range.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_support.h"
#include "tokenizer/prompt_attention.h"
#include "tokenizer/tokenizer_error.h"

namespace sdxl::tokenizer {
namespace {

TEST(PromptAttention, MatchesTheWebuiOnEveryReferencePrompt) {
  SDXL_REQUIRE_REFERENCE();
  std::ifstream in(test::reference_dir() / "cases/a1111_prompt_parse.json");
  const auto cases = nlohmann::json::parse(in)["cases"];
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    const std::string prompt = c["prompt"];
    SCOPED_TRACE(prompt);
    const auto parsed = parse_prompt_attention(prompt);
    ASSERT_EQ(parsed.size(), c["parsed"].size());
    for (size_t i = 0; i < parsed.size(); ++i) {
      EXPECT_EQ(parsed[i].text, c["parsed"][i][0].get<std::string>());
      EXPECT_NEAR(parsed[i].weight, c["parsed"][i][1].get<double>(), 1e-9);
    }
  }
}

TEST(PromptAttention, Basics) {
  using P = std::vector<WeightedText>;
  EXPECT_EQ(parse_prompt_attention("a (b) c"), (P{{"a ", 1.0}, {"b", 1.1}, {" c", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("(b:0.5)"), (P{{"b", 0.5}}));
  EXPECT_EQ(parse_prompt_attention("x BREAK y"), (P{{"x", 1.0}, {"BREAK", -1.0}, {"y", 1.0}}));
  EXPECT_TRUE(is_break(parse_prompt_attention("x BREAK y")[1]));
  EXPECT_FALSE(is_break(parse_prompt_attention("(x BREAK y:2)")[1]));
  EXPECT_EQ(parse_prompt_attention("no:weight"), (P{{"no:weight", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("stray :1.5) close"), (P{{"stray :1.5) close", 1.0}}));
  EXPECT_EQ(parse_prompt_attention("\\\\(x\\\\)"), (P{{"\\", 1.0}, {"x\\", 1.1}}));
}

void expect_refused(const std::string& prompt, const std::string& fragment) {
  try {
    parse_prompt_attention(prompt);
    FAIL() << "accepted " << prompt;
  } catch (const TokenizerError& e) {
    EXPECT_EQ(e.kind(), TokenizerError::Kind::InvalidText);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(PromptAttention, RefusesWeightsThatAreNotNumbersOrOutOfRange) {
  expect_refused("(cat:1.2.3)", "'1.2.3' is not a number");
  expect_refused("(cat:.)", "'.' is not a number");
  expect_refused("(cat:10.5)", "outside [-10, 10]");
  expect_refused("(cat:-11)", "outside [-10, 10]");
  expect_refused("caf\xe9", "UTF-8");
  EXPECT_NO_THROW(parse_prompt_attention("(cat:10)(dog:-10)"));
}

}  // namespace
}  // namespace sdxl::tokenizer

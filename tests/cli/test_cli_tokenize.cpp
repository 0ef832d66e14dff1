// `sdxl tokenize` against the golden tokenizer ids.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cli/cli_runner.h"
#include "golden_cases.h"

namespace sdxl {
namespace {

std::string expected_line(const std::string& name, const Tensor& ids, int64_t row) {
  std::string line = name + ":";
  for (int64_t i = 0; i < ids.dim(1); ++i) line += " " + std::to_string(ids.data<int64_t>()[row * ids.dim(1) + i]);
  return line + "\n";
}

TEST(CliTokenize, MatchesGoldenIdsOnTinyBase) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("tokenizer");
  ASSERT_FALSE(cases.empty());
  const auto& c = cases[0];
  test::CaseFile file(c);
  const fs::path model = test::model_dir(c);
  for (int64_t row : {0, 5, 16, 22}) {  // plain, punctuation, "!!!", and a truncated long prompt
    const std::string prompt = c["params"]["prompts"][static_cast<size_t>(row)];
    std::string escaped;
    for (char ch : prompt) escaped += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    auto r = run_sdxl("tokenize -m " + quoted(model) + " '" + escaped + "'", false);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, expected_line("tokenizer", file["input_ids_1"], row) +
                            expected_line("tokenizer_2", file["input_ids_2"], row))
        << prompt;
  }
}

TEST(CliTokenize, RefinerHasOnlyTokenizer2) {
  SDXL_REQUIRE_REFERENCE();
  auto r = run_sdxl("tokenize -m " + quoted(test::reference_dir() / "models/tiny-sdxl-refiner") + " 'a cat'", false);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output.rfind("tokenizer_2: 49406 320 2368 49407 0", 0), 0u) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1);
}

TEST(CliTokenize, InvalidUtf8IsAClearError) {
  SDXL_REQUIRE_REFERENCE();
  auto r = run_sdxl("tokenize -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") + " \"$(printf 'caf\\351')\"");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("not valid UTF-8"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sdxl

namespace sdxl {
namespace {

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

nlohmann::json tokenize_json(const std::string& prompt) {
  auto r = run_sdxl("tokenize --prompt-syntax a1111 --json -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                        " -- " + shell_quoted(prompt),
                    false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? nlohmann::json::parse(r.output) : nlohmann::json();
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in)["cases"];
}

// kind a1111_prompt_parse: the webui's parse_prompt_attention, through `sdxl tokenize --json`.
TEST(CliTokenizeA1111, PartsMatchTheWebui) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = read_json(test::reference_dir() / "cases/a1111_prompt_parse.json");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const auto out = tokenize_json(c["prompt"]);
    ASSERT_EQ(out["parts"].size(), c["parsed"].size()) << out["parts"].dump();
    for (size_t i = 0; i < out["parts"].size(); ++i) {
      EXPECT_EQ(out["parts"][i][0], c["parsed"][i][0]);
      EXPECT_NEAR(out["parts"][i][1].get<double>(), c["parsed"][i][1].get<double>(), 1e-9);
    }
  }
}

// kind a1111_prompt_chunks: the webui's tokenize_line (chunks, multipliers, comma back-tracking,
// BREAK) and what the bigG encoder receives.
TEST(CliTokenizeA1111, ChunksMatchTheWebui) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = read_json(test::reference_dir() / "cases/a1111_prompt_chunks.json");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    const auto out = tokenize_json(c["prompt"]);
    const auto& chunks = c["chunks"];
    ASSERT_EQ(out["tokenizer"]["ids"].size(), chunks.size());
    for (size_t k = 0; k < chunks.size(); ++k) {
      EXPECT_EQ(out["tokenizer"]["ids"][k], chunks[k]["tokens"]) << "chunk " << k;
      for (size_t t = 0; t < 77; ++t)
        EXPECT_NEAR(out["tokenizer"]["weights"][k][t].get<double>(), chunks[k]["multipliers"][t].get<double>(), 1e-9);
      EXPECT_EQ(out["tokenizer_2"]["ids"][k], c["encoder_2_input_ids"][k]) << "chunk " << k;
    }
  }
}

TEST(CliTokenizeA1111, BadWeightIsAClearError) {
  SDXL_REQUIRE_REFERENCE();
  auto r = run_sdxl("tokenize --prompt-syntax a1111 -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
                    " '(cat:1.2.3)'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("'1.2.3' is not a number"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sdxl

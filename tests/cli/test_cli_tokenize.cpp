// `sdxl tokenize` against the golden tokenizer ids.
#include <gtest/gtest.h>

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

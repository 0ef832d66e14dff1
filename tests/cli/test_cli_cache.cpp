// `sdxl generate`'s packed-weight cache as users meet it: two commands started together on an
// empty cache both finish with the image made without one and leave one sound entry per
// model; --no-cache writes nothing; the options are explained and checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "cli/cli_runner.h"
#include "golden_cases.h"
#include "test_support.h"

namespace sdxl {
namespace {

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& item : fs::directory_iterator(dir)) out.push_back(item.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string generate_args(const fs::path& out) {
  return "generate -m " + quoted(test::reference_dir() / "models/tiny-sdxl-base") +
         " -p 'a windmill' -W 64 -H 64 --steps 2 --seed 9 --precision bf16 -o " + quoted(out);
}

TEST(CliCache, TwoCommandsFillingOneCacheAtOnceBothSucceed) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const fs::path cache = dir / "cache";
  auto plain = run_sdxl(generate_args(dir / "plain.png") + " --no-cache");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  // One shell line: both processes run at once, then the shell waits for both.
  const std::string a = std::string("'") + SDXL_CLI_PATH + "' " + generate_args(dir / "a.png") + " --cache-dir " + quoted(cache);
  const std::string b = std::string("'") + SDXL_CLI_PATH + "' " + generate_args(dir / "b.png") + " --cache-dir " + quoted(cache);
  const int status = std::system(("(" + a + " > " + quoted(dir / "a.log") + " 2>&1 & " + b + " > " + quoted(dir / "b.log") +
                                  " 2>&1 & wait; test -s " + quoted(dir / "a.png") + " && test -s " + quoted(dir / "b.png") + ")")
                                     .c_str());
  ASSERT_EQ(status, 0) << file_bytes(dir / "a.log") << file_bytes(dir / "b.log");
  EXPECT_EQ(file_bytes(dir / "a.png"), file_bytes(dir / "plain.png"));
  EXPECT_EQ(file_bytes(dir / "b.png"), file_bytes(dir / "plain.png"));
  const auto entries = names_in(cache);
  ASSERT_EQ(entries.size(), 4u) << testing::PrintToString(entries);  // no partial files left
  for (const auto& name : entries) EXPECT_EQ(fs::path(name).extension(), ".sdxlpack") << name;
  // A third command maps them and makes the same image.
  auto mapped = run_sdxl(generate_args(dir / "c.png") + " --cache-dir " + quoted(cache));
  ASSERT_EQ(mapped.exit_code, 0) << mapped.output;
  EXPECT_EQ(file_bytes(dir / "c.png"), file_bytes(dir / "plain.png"));
  EXPECT_EQ(names_in(cache), entries);
}

TEST(CliCache, NoCacheWritesNothingAndTheDefaultFolderIsSdxlsCache) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  auto with_root = [&](const std::string& args) {
    const std::string command =
        "env SDXL_CACHE_DIR=" + quoted(dir / "root") + " '" + SDXL_CLI_PATH + "' " + args + " > /dev/null 2>&1";
    return std::system(command.c_str());
  };
  ASSERT_EQ(with_root(generate_args(dir / "off.png") + " --no-cache"), 0);
  EXPECT_FALSE(fs::exists(dir / "root" / "packed"));
  ASSERT_EQ(with_root(generate_args(dir / "on.png")), 0);
  EXPECT_EQ(names_in(dir / "root" / "packed").size(), 4u);
}

TEST(CliCache, OptionsAreExplainedAndChecked) {
  auto help = run_sdxl("generate --help");
  for (const char* option : {"--cache-dir", "--no-cache", "--cache-max-gb"}) EXPECT_NE(help.output.find(option), std::string::npos) << option;
  test::TempDir dir;
  auto both = run_sdxl("generate -m x -p y --no-cache --cache-dir " + quoted(dir.path()));
  EXPECT_NE(both.exit_code, 0);
  EXPECT_NE(both.output.find("--no-cache"), std::string::npos) << both.output;
  auto negative = run_sdxl("generate -m x -p y --cache-max-gb -1");
  EXPECT_NE(negative.exit_code, 0);
  EXPECT_NE(negative.output.find("--cache-max-gb"), std::string::npos) << negative.output;
}

}  // namespace
}  // namespace sdxl

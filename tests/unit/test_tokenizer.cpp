// The tokenizer on its own: Unicode handling details and clear errors for bad text and files.
#include <gtest/gtest.h>

#include "core/error.h"
#include "pipeline/prompts/tokenizer_loader.h"
#include "test_support.h"
#include "tokenizer/tokenizer_error.h"
#include "tokenizer/unicode_text.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;
using tokenizer::TokenizerError;

TEST(Utf8, RejectsMalformedSequences) {
  for (const char* bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "abc\xe2\x82", "\x80"}) {
    EXPECT_THROW(tokenizer::decode_utf8(bad), TokenizerError) << bad;
  }
  EXPECT_EQ(tokenizer::decode_utf8("caf\xc3\xa9"), U"caf\u00e9");
  EXPECT_EQ(tokenizer::encode_utf8(U"\U0001F600"), "\xf0\x9f\x98\x80");
}

TEST(Unicode, ClassesAndCaseMapping) {
  EXPECT_TRUE(tokenizer::is_letter(U'\u00e9'));
  EXPECT_TRUE(tokenizer::is_letter(U'\u732b'));
  EXPECT_FALSE(tokenizer::is_letter(U'1'));
  EXPECT_TRUE(tokenizer::is_number(U'\u0663'));  // Arabic-Indic three
  EXPECT_TRUE(tokenizer::is_control(U'\u200d'));  // zero-width joiner (Cf) is dropped
  EXPECT_FALSE(tokenizer::is_control(U'\t'));
  EXPECT_TRUE(tokenizer::is_whitespace(U'\u3000'));
  EXPECT_TRUE(tokenizer::is_python_space(U'\u2028'));
  EXPECT_EQ(tokenizer::to_lower(U"\u0130"), U"i\u0307");  // full mapping, as Python
  EXPECT_EQ(tokenizer::to_lower(U"\u039f\u03a3"), U"\u03bf\u03c2");  // final sigma
  EXPECT_EQ(tokenizer::normalize_nfc(U"e\u0301"), U"\u00e9");
}

class TokenizerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    fs::copy(test::reference_dir() / "models/tiny-sdxl-base/tokenizer", dir_ / "tok");
  }
  void expect_error(const std::string& fragment) {
    try {
      pipeline::load_clip_tokenizer(dir_ / "tok");
      FAIL() << "loaded a broken tokenizer";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
  test::TempDir dir_;
};

TEST_F(TokenizerFiles, LoadsAndEncodes) {
  auto tok = pipeline::load_clip_tokenizer(dir_ / "tok");
  auto ids = tok.encode("a photo of a cat");
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + 7),
            (std::vector<int32_t>{49406, 320, 1125, 539, 320, 2368, 49407}));
  EXPECT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids.back(), 49407);
  EXPECT_EQ(tok.decode({320, 1125, 539}), "a photo of");
}

TEST_F(TokenizerFiles, MissingVocab) {
  fs::remove(dir_ / "tok/vocab.json");
  expect_error("vocab.json");
}

TEST_F(TokenizerFiles, MissingMerges) {
  fs::remove(dir_ / "tok/merges.txt");
  expect_error("merges.txt");
}

TEST_F(TokenizerFiles, MalformedVocab) {
  test::write_file(dir_ / "tok/vocab.json", "{\"a\": \"one\"}");
  expect_error("vocab.json");
  test::write_file(dir_ / "tok/vocab.json", "[1,2");
  expect_error("invalid JSON");
}

TEST_F(TokenizerFiles, MalformedMerges) {
  test::write_file(dir_ / "tok/merges.txt", "#version: 0.2\ni n\nthree parts here\n");
  expect_error("line 3");
}

TEST_F(TokenizerFiles, VocabMergesMismatch) {
  std::string merges = test::read_file(dir_ / "tok/merges.txt");
  test::write_file(dir_ / "tok/merges.txt", "#version: 0.2\nq z\n" + merges.substr(merges.find('\n') + 1));
  expect_error("do not match");
}

TEST_F(TokenizerFiles, SpecialTokenNotInVocab) {
  test::write_file(dir_ / "tok/special_tokens_map.json", R"({"pad_token": "<|nope|>"})");
  expect_error("<|nope|>");
}

}  // namespace
}  // namespace sdxl

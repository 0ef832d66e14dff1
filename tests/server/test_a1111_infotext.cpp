// png-info's `parameters`: AUTOMATIC1111's parse_generation_parameters on texts whose last line
// its re_param reads in every way it can (the expected key/value pairs are what Python's re.findall
// gives for its pattern on these lines).
#include <gtest/gtest.h>

#include "server/api/a1111_infotext.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

TEST(A1111Infotext, ParsesAsParseGenerationParameters) {
  const json a = parse_generation_parameters(
      "a photo of a cat,\n  (masterpiece:1.2)\nNegative prompt: blurry,\nlow quality\n"
      "Steps: 3, Sampler: DPM++ 2M, Schedule type: Karras, Lora hashes: \"a: 0123, b: 4567\", "
      "Hires prompt: \"say \\\"hi\\\", ok\", Size: 64x96, Version: v1.10");
  EXPECT_EQ(a["Prompt"], "a photo of a cat,\n(masterpiece:1.2)");
  EXPECT_EQ(a["Negative prompt"], "blurry,\nlow quality");
  EXPECT_EQ(a["Steps"], "3");
  EXPECT_EQ(a["Sampler"], "DPM++ 2M");
  EXPECT_EQ(a["Schedule type"], "Karras");
  EXPECT_EQ(a["Lora hashes"], "a: 0123, b: 4567");
  EXPECT_EQ(a["Hires prompt"], "say \"hi\", ok");
  EXPECT_EQ(a["Size-1"], "64");
  EXPECT_EQ(a["Size-2"], "96");
  EXPECT_FALSE(a.contains("Size"));
  EXPECT_EQ(a["Version"], "v1.10");
  EXPECT_EQ(a["Clip skip"], "1") << "its default when the text has none";
  EXPECT_EQ(a["Hires resize-1"], 0);
  EXPECT_EQ(a["Masked area padding"], 32);
  EXPECT_EQ(a["RNG"], "GPU");

  // Fewer than three parameters: the last line is prompt text.
  const json b = parse_generation_parameters("a cat, b: c, dd: e");
  EXPECT_EQ(b["Prompt"], "a cat, b: c, dd: e");
  EXPECT_FALSE(b.contains("dd"));

  // Unterminated and adjoining quotes, an empty quoted value, spaces kept inside values.
  const json c = parse_generation_parameters(
      "p\n x: \"unterminated, Steps: 4, CFG scale: 5 , Denoising strength: 0.5, ab: \"q\"x, cd: \"\", Clip skip: 2");
  EXPECT_EQ(c["Prompt"], "p");
  EXPECT_EQ(c["Steps"], "4");
  EXPECT_EQ(c["CFG scale"], "5 ");
  EXPECT_EQ(c["ab"], "\"q\"x");
  EXPECT_EQ(c["cd"], "");
  EXPECT_EQ(c["Clip skip"], "2");
  EXPECT_FALSE(c.contains("x"));

  const json empty = parse_generation_parameters("");
  EXPECT_EQ(empty["Prompt"], "");
  EXPECT_EQ(empty["Negative prompt"], "");
}

TEST(A1111Infotext, HostileTextIsLinearAndBounded) {
  // A long line of near-keys and an unterminated quote: no backtracking blow-up, no overread.
  std::string line;
  for (int i = 0; i < 20000; ++i) line += "ab cd";
  line += ": \"" + std::string(100000, '\\');
  const json r = parse_generation_parameters("prompt\n" + line);
  EXPECT_TRUE(r.contains("Prompt"));
}

}  // namespace
}  // namespace sdxl::server

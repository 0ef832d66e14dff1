// The request bodies' JSON limits, measured before parsing: nesting depth (brackets inside
// strings and escaped quotes do not count) and NUL escapes inside strings.
#include <gtest/gtest.h>

#include <string>

#include "server/http/json_depth.h"

namespace sdxl::server {
namespace {

TEST(JsonDepth, CountsArraysAndObjectsOutsideStrings) {
  EXPECT_EQ(json_nesting_depth("{}", 32), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a": [1, {"b": [[]]}]})", 32), 5u);
  EXPECT_EQ(json_nesting_depth(R"({"a": "[[[[{{{{", "b": "\"[[["})", 32), 1u);
  EXPECT_EQ(json_nesting_depth(R"(["\\", [[]]])", 32), 3u);  // an escaped backslash ends before the quote
  EXPECT_EQ(json_nesting_depth("", 32), 0u);
  EXPECT_EQ(json_nesting_depth("]]]]", 32), 0u);
  // Stops counting past the limit: a 70,000-deep body costs no more than 33 levels' scan.
  EXPECT_EQ(json_nesting_depth(std::string(70000, '['), 32), 33u);
}

TEST(JsonDepth, FindsNulEscapesInStringsOnly) {
  EXPECT_TRUE(json_has_nul_escape(R"({"prompt": "a\u0000b"})"));
  EXPECT_FALSE(json_has_nul_escape(R"({"prompt": "a\\u0000b"})"));  // an escaped backslash, then text
  EXPECT_FALSE(json_has_nul_escape(R"({"prompt": "a\u0001b"})"));
  EXPECT_FALSE(json_has_nul_escape(R"({"u0000": 1})"));
}

}  // namespace
}  // namespace sdxl::server

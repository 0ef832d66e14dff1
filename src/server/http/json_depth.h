// How deeply JSON text nests, measured without parsing it: nlohmann parses any depth (its parser
// is iterative) but dump(), comparisons and copies recurse, so a body nested 70,000 deep parses
// and then overflows the stack. Every body and queued job is measured before it is parsed.
#pragma once

#include <cstddef>
#include <string_view>

namespace sdxl::server {

// The deepest nesting of arrays and objects in `text` (brackets inside strings not counted);
// stops counting past `limit` + 1.
inline size_t json_nesting_depth(std::string_view text, size_t limit) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

// Whether a string in `text` holds the escape \u0000 (a NUL that would cut C strings short).
inline bool json_has_nul_escape(std::string_view text) {
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!in_string) {
      in_string = c == '"';
      continue;
    }
    if (c == '"') {
      in_string = false;
    } else if (c == '\\' && i + 1 < text.size()) {
      if (text[i + 1] == 'u' && text.substr(i + 2, 4) == "0000") return true;
      ++i;
    }
  }
  return false;
}

}  // namespace sdxl::server

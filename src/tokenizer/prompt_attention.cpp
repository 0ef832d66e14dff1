#include "tokenizer/prompt_attention.h"

#include <cmath>
#include <cstdlib>

#include "tokenizer/tokenizer_error.h"
#include "tokenizer/unicode_text.h"

namespace sdxl::tokenizer {
namespace {

constexpr double kRoundBracket = 1.1;
constexpr double kSquareBracket = 1.0 / 1.1;

[[noreturn]] void invalid(const std::string& message) {
  throw TokenizerError(TokenizerError::Kind::InvalidText, "[prompt] " + message);
}

bool is_word(char32_t c) { return c == U'_' || is_letter(c) || is_number(c); }  // Python's \w

// Splits a run of plain text on `\s*\bBREAK\b\s*` (re.split: every part kept, empty ones too).
std::vector<std::u32string> split_on_break(const std::u32string& text) {
  static const std::u32string kBreak = U"BREAK";
  std::vector<std::u32string> parts;
  size_t part_start = 0, search = 0;
  while (true) {
    size_t at = text.find(kBreak, search);
    if (at == std::u32string::npos) break;
    const size_t end = at + kBreak.size();
    const bool left = at == 0 || !is_word(text[at - 1]);
    const bool right = end == text.size() || !is_word(text[end]);
    if (!left || !right) {
      search = at + 1;
      continue;
    }
    size_t begin = at;
    while (begin > part_start && is_python_space(text[begin - 1])) --begin;
    size_t stop = end;
    while (stop < text.size() && is_python_space(text[stop])) ++stop;
    parts.push_back(text.substr(part_start, begin - part_start));
    part_start = search = stop;
  }
  parts.push_back(text.substr(part_start));
  return parts;
}

// At text[i] == ':': the length of `:\s*([+-]?[.\d]+)\s*\)` and the number's text, or 0.
size_t weight_token(const std::u32string& text, size_t i, std::string& number) {
  size_t j = i + 1;
  while (j < text.size() && is_python_space(text[j])) ++j;
  const size_t number_start = j;
  if (j < text.size() && (text[j] == U'+' || text[j] == U'-')) ++j;
  const size_t digits_start = j;
  while (j < text.size() && (text[j] == U'.' || (text[j] >= U'0' && text[j] <= U'9'))) ++j;
  if (j == digits_start) return 0;
  number = encode_utf8(text.substr(number_start, j - number_start));
  while (j < text.size() && is_python_space(text[j])) ++j;
  if (j >= text.size() || text[j] != U')') return 0;
  return j + 1 - i;
}

// Python's float() on [+-]?[.\d]+: refuses "1.2.3" and ".", as the webui would fail on them.
double parse_weight(const std::string& number) {
  char* end = nullptr;
  const double value = std::strtod(number.c_str(), &end);
  size_t dots = 0, digits = 0;
  for (char c : number) {
    dots += c == '.';
    digits += c >= '0' && c <= '9';
  }
  if (end != number.c_str() + number.size() || dots > 1 || digits == 0)
    invalid("the weight '" + number + "' is not a number (write it as (text:1.2))");
  if (!std::isfinite(value) || std::fabs(value) > kMaxPromptWeight)
    invalid("the weight " + number + " is outside [-10, 10]");
  return value;
}

}  // namespace

std::vector<WeightedText> parse_prompt_attention(const std::string& utf8) {
  const std::u32string text = decode_utf8(utf8);  // throws on invalid UTF-8
  std::vector<std::pair<std::u32string, double>> res;
  std::vector<size_t> round, square;
  auto multiply_range = [&](size_t start, double multiplier) {
    for (size_t p = start; p < res.size(); ++p) res[p].second *= multiplier;
  };
  auto plain = [&](const std::u32string& run) {
    const auto parts = split_on_break(run);
    for (size_t k = 0; k < parts.size(); ++k) {
      if (k > 0) res.emplace_back(U"BREAK", -1.0);
      res.emplace_back(parts[k], 1.0);
    }
  };
  auto special = [](char32_t c) { return c == U'\\' || c == U'(' || c == U')' || c == U'[' || c == U']' || c == U':'; };

  size_t i = 0;
  while (i < text.size()) {
    const char32_t c = text[i];
    if (c == U'\\') {
      const bool escaped = i + 1 < text.size() && (text[i + 1] == U'(' || text[i + 1] == U')' || text[i + 1] == U'[' ||
                                                    text[i + 1] == U']' || text[i + 1] == U'\\');
      res.emplace_back(escaped ? std::u32string(1, text[i + 1]) : std::u32string(), 1.0);  // a lone backslash drops
      i += escaped ? 2 : 1;
    } else if (c == U'(') {
      round.push_back(res.size());
      ++i;
    } else if (c == U'[') {
      square.push_back(res.size());
      ++i;
    } else if (c == U':') {
      std::string number;
      const size_t length = weight_token(text, i, number);
      if (length > 0 && !round.empty()) {
        const double weight = parse_weight(number);
        multiply_range(round.back(), weight);
        round.pop_back();
        i += length;
      } else if (length > 0) {
        plain(text.substr(i, length));  // ":1.2)" with no bracket open is text
        i += length;
      } else {
        plain(U":");
        ++i;
      }
    } else if (c == U')' && !round.empty()) {
      multiply_range(round.back(), kRoundBracket);
      round.pop_back();
      ++i;
    } else if (c == U']' && !square.empty()) {
      multiply_range(square.back(), kSquareBracket);
      square.pop_back();
      ++i;
    } else if (c == U')' || c == U']') {
      plain(std::u32string(1, c));
      ++i;
    } else {
      size_t j = i;
      while (j < text.size() && !special(text[j])) ++j;
      plain(text.substr(i, j - i));
      i = j;
    }
  }
  for (size_t position : round) multiply_range(position, kRoundBracket);
  for (size_t position : square) multiply_range(position, kSquareBracket);
  if (res.empty()) res.emplace_back(U"", 1.0);

  std::vector<WeightedText> out;
  for (auto& [piece, weight] : res) {
    if (!out.empty() && out.back().weight == weight)
      out.back().text += encode_utf8(piece);
    else
      out.push_back({encode_utf8(piece), weight});
  }
  return out;
}

}  // namespace sdxl::tokenizer

// AUTOMATIC1111's prompt emphasis syntax (modules/prompt_parser.py, parse_prompt_attention):
// "(x)" multiplies x's weight by 1.1, "[x]" by 1/1.1, "(x:w)" by w, nested brackets multiply,
// an unclosed bracket applies to the rest, "\(" and friends are literal, and "BREAK" (upper case,
// a whole word) becomes the piece {"BREAK", -1} that starts a new 75-token chunk.
#pragma once

#include <string>
#include <vector>

namespace sdxl::tokenizer {

struct WeightedText {
  std::string text;
  double weight = 1.0;
  bool operator==(const WeightedText& o) const { return text == o.text && weight == o.weight; }
};

// The largest |weight| an explicit "(x:w)" may give; beyond it the prompt is refused.
inline constexpr double kMaxPromptWeight = 10.0;

// The pieces of `text` with their weights, neighbours of equal weight merged; "" gives {"", 1}.
// Throws TokenizerError(InvalidText) for invalid UTF-8, a weight that is not a number ("1.2.3")
// or one outside [-kMaxPromptWeight, kMaxPromptWeight], naming it.
std::vector<WeightedText> parse_prompt_attention(const std::string& text);

// A "BREAK" piece as parse_prompt_attention makes it (weight exactly -1: inside brackets its
// weight is multiplied and it is the plain word "break" with a negative weight, as in the webui).
inline bool is_break(const WeightedText& piece) { return piece.text == "BREAK" && piece.weight == -1.0; }

}  // namespace sdxl::tokenizer

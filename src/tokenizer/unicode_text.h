// The Unicode operations CLIP's text clean-up needs, on UTF-32 strings, backed by ICU so the
// character classes come from the Unicode database rather than hand-made tables.
#pragma once

#include <string>
#include <string_view>

namespace sdxl::tokenizer {

// Strict UTF-8 decoding (no overlongs, surrogates or truncated sequences); throws
// TokenizerError(InvalidText) naming the byte offset.
std::u32string decode_utf8(std::string_view text);
std::string encode_utf8(std::u32string_view text);

std::u32string normalize_nfc(const std::u32string& text);
std::u32string to_lower(const std::u32string& text);  // full case mapping, as Python's str.lower()

bool is_control(char32_t c);     // transformers' _is_control: category C*, except \t \n \r
bool is_whitespace(char32_t c);  // transformers' _is_whitespace: space, \t \n \r, or category Zs
bool is_python_space(char32_t c);  // Python's str.isspace(): Zs, or bidi class WS, B or S
bool is_letter(char32_t c);      // \p{L}
bool is_number(char32_t c);      // \p{N}
bool is_regex_space(char32_t c); // \s of Python's `regex` module: the White_Space property
bool is_cjk_ideograph(char32_t c);  // BasicTokenizer's _is_chinese_char ranges

}  // namespace sdxl::tokenizer

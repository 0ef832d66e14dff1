#include "tokenizer/unicode_text.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <vector>

#include "tokenizer/tokenizer_error.h"

namespace sdxl::tokenizer {
namespace {

[[noreturn]] void invalid_utf8(size_t offset) {
  throw TokenizerError(TokenizerError::Kind::InvalidText,
                       "[tokenizer] the prompt is not valid UTF-8 (bad byte sequence at offset " +
                           std::to_string(offset) + ")");
}

std::u16string to_utf16(const std::u32string& text) {
  std::u16string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c >= 0x10000) {
      c -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(c));
    }
  }
  return out;
}

std::u32string from_utf16(const char16_t* text, size_t n) {
  std::u32string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    char32_t c = text[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && text[i + 1] >= 0xDC00 && text[i + 1] < 0xE000) {
      c = 0x10000 + ((c - 0xD800) << 10) + (text[i + 1] - 0xDC00);
      ++i;
    }
    out.push_back(c);
  }
  return out;
}

// Runs an ICU UTF-16 transformation that reports the length it needs.
template <typename Fn>
std::u32string transform(const std::u32string& text, Fn fn) {
  std::u16string in = to_utf16(text);
  std::vector<UChar> out(in.size() * 3 + 16);
  UErrorCode status = U_ZERO_ERROR;
  int32_t n = fn(reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()), out.data(),
                 static_cast<int32_t>(out.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    out.resize(static_cast<size_t>(n) + 1);
    status = U_ZERO_ERROR;
    n = fn(reinterpret_cast<const UChar*>(in.data()), static_cast<int32_t>(in.size()), out.data(),
           static_cast<int32_t>(out.size()), &status);
  }
  if (U_FAILURE(status))
    throw TokenizerError(TokenizerError::Kind::InvalidText,
                         std::string("[tokenizer] Unicode processing failed: ") + u_errorName(status));
  return from_utf16(reinterpret_cast<const char16_t*>(out.data()), static_cast<size_t>(n));
}

}  // namespace

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int length;
    char32_t c;
    if ((b0 & 0xE0) == 0xC0) {
      length = 2;
      c = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      length = 3;
      c = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      length = 4;
      c = b0 & 0x07;
    } else {
      invalid_utf8(i);
    }
    if (i + static_cast<size_t>(length) > text.size()) invalid_utf8(i);
    for (int k = 1; k < length; ++k) {
      const unsigned char b = static_cast<unsigned char>(text[i + static_cast<size_t>(k)]);
      if ((b & 0xC0) != 0x80) invalid_utf8(i);
      c = (c << 6) | (b & 0x3F);
    }
    const char32_t minimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < minimum[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) invalid_utf8(i);
    out.push_back(c);
    i += static_cast<size_t>(length);
  }
  return out;
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::u32string normalize_nfc(const std::u32string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  if (U_FAILURE(status))
    throw TokenizerError(TokenizerError::Kind::InvalidText, "[tokenizer] ICU has no NFC normalizer");
  return transform(text, [nfc](const UChar* in, int32_t n, UChar* out, int32_t cap, UErrorCode* st) {
    return unorm2_normalize(nfc, in, n, out, cap, st);
  });
}

std::u32string to_lower(const std::u32string& text) {
  // The root locale gives the unconditional full mappings plus Final_Sigma, as Python does.
  return transform(text, [](const UChar* in, int32_t n, UChar* out, int32_t cap, UErrorCode* st) {
    return u_strToLower(out, cap, in, n, "", st);
  });
}

bool is_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  switch (u_charType(static_cast<UChar32>(c))) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_UNASSIGNED:
    case U_PRIVATE_USE_CHAR:
    case U_SURROGATE:
      return true;
    default:
      return false;
  }
}

bool is_whitespace(char32_t c) {
  if (c == U' ' || c == U'\t' || c == U'\n' || c == U'\r') return true;
  return u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR;
}

bool is_python_space(char32_t c) {
  if (u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR) return true;
  const UCharDirection d = u_charDirection(static_cast<UChar32>(c));
  return d == U_WHITE_SPACE_NEUTRAL || d == U_BLOCK_SEPARATOR || d == U_SEGMENT_SEPARATOR;
}

bool is_letter(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_L_MASK) != 0; }

bool is_number(char32_t c) { return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0; }

bool is_regex_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0; }

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace sdxl::tokenizer

#include "tokenizer/clip_tokenizer.h"

#include <algorithm>
#include <climits>

#include "tokenizer/tokenizer_error.h"
#include "tokenizer/unicode_text.h"

namespace sdxl::tokenizer {
namespace {

const std::string kEndOfWord = "</w>";

[[noreturn]] void bad_files(const std::string& source, const std::string& why) {
  throw TokenizerError(TokenizerError::Kind::InvalidFiles, "[tokenizer] " + source + ": " + why);
}

bool starts_with_at(const std::u32string& text, size_t at, const std::u32string& prefix) {
  return text.size() - at >= prefix.size() && text.compare(at, prefix.size(), prefix) == 0;
}

// transformers' BasicTokenizer(strip_accents=False, do_split_on_punc=False) followed by
// " ".join(...).lower(), as CLIPTokenizer uses it when ftfy is absent.
std::u32string basic_clean(const std::u32string& text) {
  std::u32string cleaned;
  cleaned.reserve(text.size());
  for (char32_t c : text) {
    if (c == 0 || c == 0xFFFD || is_control(c)) continue;
    if (is_whitespace(c)) {
      cleaned.push_back(U' ');
    } else if (is_cjk_ideograph(c)) {
      cleaned.push_back(U' ');
      cleaned.push_back(c);
      cleaned.push_back(U' ');
    } else {
      cleaned.push_back(c);
    }
  }
  std::u32string normalized = normalize_nfc(cleaned);
  // str.split(): runs of Python whitespace separate words; each word is lower-cased.
  std::u32string joined;
  size_t i = 0;
  while (i < normalized.size()) {
    while (i < normalized.size() && is_python_space(normalized[i])) ++i;
    size_t start = i;
    while (i < normalized.size() && !is_python_space(normalized[i])) ++i;
    if (i > start) {
      if (!joined.empty()) joined.push_back(U' ');
      joined += to_lower(normalized.substr(start, i - start));
    }
  }
  return to_lower(joined);
}

// CLIP's pattern: <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (IGNORECASE; the text is already lower case), as re.findall: alternatives in order at each
// position, unmatched characters (whitespace) skipped.
std::vector<std::u32string> clip_regex_split(const std::u32string& text) {
  static const std::u32string specials[] = {U"<|startoftext|>", U"<|endoftext|>"};
  static const std::u32string contractions[] = {U"'s", U"'t", U"'re", U"'ve", U"'m", U"'ll", U"'d"};
  std::vector<std::u32string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t length = 0;
    for (const auto& s : specials)
      if (!length && starts_with_at(text, i, s)) length = s.size();
    for (const auto& s : contractions)
      if (!length && starts_with_at(text, i, s)) length = s.size();
    const char32_t c = text[i];
    if (!length && is_letter(c)) {
      while (i + length < text.size() && is_letter(text[i + length])) ++length;
    } else if (!length && is_number(c)) {
      length = 1;
    } else if (!length && !is_regex_space(c)) {
      while (i + length < text.size() && !is_regex_space(text[i + length]) && !is_letter(text[i + length]) &&
             !is_number(text[i + length]))
        ++length;
    }
    if (length) {
      out.push_back(text.substr(i, length));
      i += length;
    } else {
      ++i;  // whitespace: not part of any token
    }
  }
  return out;
}

}  // namespace

ClipTokenizer::ClipTokenizer(TokenizerSpec spec)
    : vocab_(std::move(spec.vocab)), max_length_(spec.max_length), source_(std::move(spec.source)) {
  if (vocab_.empty()) bad_files(source_, "vocab.json is empty");
  if (max_length_ < 2) bad_files(source_, "model_max_length must be at least 2");
  for (const auto& [token, id] : vocab_) id_to_token_.emplace(id, token);

  // GPT-2's reversible byte -> printable character table.
  int next = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    char32_t symbol = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + next++);
    byte_to_symbol_[b] = std::u32string(1, symbol);
    symbol_to_byte_[symbol] = static_cast<uint8_t>(b);
  }
  for (int b = 0; b < 256; ++b) {
    const std::string symbol = encode_utf8(byte_to_symbol_[b]);
    if (!vocab_.count(symbol) || !vocab_.count(symbol + kEndOfWord))
      bad_files(source_, "vocab.json lacks the byte symbol '" + symbol + "' (not a CLIP byte-level vocabulary)");
  }

  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [first, second] = spec.merges[rank];
    if (!vocab_.count(first + second))
      bad_files(source_, "merges.txt and vocab.json do not match: merge " + std::to_string(rank + 1) + " ('" + first +
                             " " + second + "') makes '" + first + second + "', which vocab.json lacks");
    merge_ranks_.emplace(first + " " + second, static_cast<int32_t>(rank));
  }

  auto id_of = [&](const std::string& token, const char* role) {
    auto it = vocab_.find(token);
    if (it == vocab_.end()) bad_files(source_, std::string(role) + " token '" + token + "' is not in vocab.json");
    return it->second;
  };
  bos_id_ = id_of(spec.bos_token, "bos");
  eos_id_ = id_of(spec.eos_token, "eos");
  unk_id_ = id_of(spec.unk_token, "unk");
  pad_id_ = id_of(spec.pad_token, "pad");
  // All special tokens are split out of the text as typed (transformers' no-split tokens):
  // for tokenizer_2 this includes its pad token "!".
  for (const std::string* token : {&spec.bos_token, &spec.eos_token, &spec.unk_token, &spec.pad_token}) {
    std::u32string t = decode_utf8(*token);
    if (!t.empty() && std::find(special_tokens_.begin(), special_tokens_.end(), t) == special_tokens_.end())
      special_tokens_.push_back(t);
  }
  cache_["<|startoftext|>"] = {"<|startoftext|>"};
  cache_["<|endoftext|>"] = {"<|endoftext|>"};
}

std::vector<std::string> ClipTokenizer::bpe(const std::string& word) const {
  {
    std::lock_guard<std::mutex> lock(*cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) return it->second;
  }
  // Symbols are the word's characters (UTF-8 each); the last one carries the end-of-word mark.
  std::vector<std::string> symbols;
  for (char32_t c : decode_utf8(word)) symbols.push_back(encode_utf8(std::u32string(1, c)));
  symbols.back() += kEndOfWord;
  while (symbols.size() > 1) {
    int32_t best_rank = INT32_MAX;
    std::string best_first, best_second;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      auto it = merge_ranks_.find(symbols[i] + " " + symbols[i + 1]);
      if (it != merge_ranks_.end() && it->second < best_rank) {
        best_rank = it->second;
        best_first = symbols[i];
        best_second = symbols[i + 1];
      }
    }
    if (best_rank == INT32_MAX) break;
    // Merge every non-overlapping occurrence of the best pair, left to right.
    std::vector<std::string> merged;
    for (size_t i = 0; i < symbols.size();) {
      if (i + 1 < symbols.size() && symbols[i] == best_first && symbols[i + 1] == best_second) {
        merged.push_back(best_first + best_second);
        i += 2;
      } else {
        merged.push_back(symbols[i]);
        ++i;
      }
    }
    symbols = std::move(merged);
  }
  std::lock_guard<std::mutex> lock(*cache_mutex_);
  if (cache_.size() < 100000) cache_.emplace(word, symbols);
  return symbols;
}

void ClipTokenizer::tokenize_piece(const std::u32string& piece, std::vector<std::string>& out) const {
  for (const std::u32string& token : clip_regex_split(basic_clean(piece))) {
    std::u32string mapped;
    for (unsigned char byte : encode_utf8(token)) mapped += byte_to_symbol_[byte];
    for (auto& symbol : bpe(encode_utf8(mapped))) out.push_back(std::move(symbol));
  }
}

std::vector<std::string> ClipTokenizer::tokenize(std::string_view text) const {
  const std::u32string input = decode_utf8(text);
  std::vector<std::string> out;
  // Split on special tokens typed in the text: leftmost match first, the longest at a position.
  size_t piece_start = 0, i = 0;
  while (i < input.size()) {
    const std::u32string* match = nullptr;
    for (const auto& special : special_tokens_)
      if (starts_with_at(input, i, special) && (!match || special.size() > match->size())) match = &special;
    if (!match) {
      ++i;
      continue;
    }
    if (i > piece_start) tokenize_piece(input.substr(piece_start, i - piece_start), out);
    out.push_back(encode_utf8(*match));
    i += match->size();
    piece_start = i;
  }
  if (piece_start < input.size()) tokenize_piece(input.substr(piece_start), out);
  return out;
}

std::vector<int32_t> ClipTokenizer::token_ids(std::string_view text) const {
  std::vector<int32_t> ids;
  for (const auto& token : tokenize(text)) {
    auto it = vocab_.find(token);
    ids.push_back(it == vocab_.end() ? unk_id_ : it->second);
  }
  return ids;
}

std::vector<int32_t> ClipTokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids = token_ids(text);
  if (ids.size() > static_cast<size_t>(max_length_ - 2)) ids.resize(static_cast<size_t>(max_length_ - 2));
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(max_length_));
  out.push_back(bos_id_);
  out.insert(out.end(), ids.begin(), ids.end());
  out.push_back(eos_id_);
  out.resize(static_cast<size_t>(max_length_), pad_id_);
  return out;
}

std::vector<int32_t> ClipTokenizer::encode_untruncated(std::string_view text) const {
  std::vector<int32_t> ids = token_ids(text);
  ids.insert(ids.begin(), bos_id_);
  ids.push_back(eos_id_);
  return ids;
}

std::string ClipTokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string joined;
  for (int32_t id : ids) {
    auto it = id_to_token_.find(id);
    if (it != id_to_token_.end()) joined += it->second;
  }
  std::string bytes;
  for (char32_t c : decode_utf8(joined)) {
    auto it = symbol_to_byte_.find(c);
    if (it != symbol_to_byte_.end()) bytes.push_back(static_cast<char>(it->second));
  }
  std::string text;
  for (size_t at = 0; at < bytes.size();) {
    if (bytes.compare(at, kEndOfWord.size(), kEndOfWord) == 0) {
      text += ' ';
      at += kEndOfWord.size();
    } else {
      text += bytes[at++];
    }
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  while (!text.empty() && text.front() == ' ') text.erase(text.begin());
  return text;
}

}  // namespace sdxl::tokenizer

// transformers' CLIPTokenizer (the slow one, without ftfy), reproduced exactly:
//   1. split the text on the special tokens typed in it (leftmost, longest first);
//   2. each other piece: BasicTokenizer clean-up (control characters dropped, whitespace
//      unified, CJK ideographs spaced out, NFC, whitespace split, lower case; accents kept);
//   3. CLIP's regex split ('s 't 're 've 'm 'll 'd, letter runs, single digits, other runs);
//   4. byte-level BPE by merge rank, with "</w>" marking a word's end; unknown -> unk.
// encode() adds BOS/EOS, truncates to max_length and pads with the tokenizer's own pad token.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sdxl::tokenizer {

struct TokenizerSpec {
  std::unordered_map<std::string, int32_t> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::string bos_token = "<|startoftext|>";
  std::string eos_token = "<|endoftext|>";
  std::string unk_token = "<|endoftext|>";
  std::string pad_token = "<|endoftext|>";
  int max_length = 77;
  std::string source;  // the folder, for messages
};

class ClipTokenizer {
 public:
  // Validates the spec (special tokens and every merge result present in the vocabulary);
  // throws TokenizerError(InvalidFiles) naming the problem.
  explicit ClipTokenizer(TokenizerSpec spec);

  // BPE token strings and ids of the text, no BOS/EOS, not truncated.
  std::vector<std::string> tokenize(std::string_view text) const;
  std::vector<int32_t> token_ids(std::string_view text) const;
  // BOS + up to max_length-2 ids + EOS, padded with pad_id to max_length.
  std::vector<int32_t> encode(std::string_view text) const;
  // BOS + all ids + EOS (what diffusers compares against to warn about truncation).
  std::vector<int32_t> encode_untruncated(std::string_view text) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }
  int max_length() const { return max_length_; }
  size_t vocab_size() const { return vocab_.size(); }
  // The text a list of ids stands for (byte-level decoding), e.g. to show what was truncated.
  std::string decode(const std::vector<int32_t>& ids) const;

 private:
  std::vector<std::string> bpe(const std::string& word) const;
  void tokenize_piece(const std::u32string& piece, std::vector<std::string>& out) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<int32_t, std::string> id_to_token_;
  std::unordered_map<std::string, int32_t> merge_ranks_;  // "first second" -> rank
  std::vector<std::u32string> special_tokens_;            // split out of the text as typed
  std::u32string byte_to_symbol_[256];
  std::unordered_map<char32_t, uint8_t> symbol_to_byte_;
  int32_t bos_id_ = 0, eos_id_ = 0, pad_id_ = 0, unk_id_ = 0;
  int max_length_ = 77;
  std::string source_;
  std::unique_ptr<std::mutex> cache_mutex_ = std::make_unique<std::mutex>();  // boxed: keeps the class movable
  mutable std::unordered_map<std::string, std::vector<std::string>> cache_;
};

}  // namespace sdxl::tokenizer

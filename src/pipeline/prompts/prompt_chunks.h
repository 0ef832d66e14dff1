// AUTOMATIC1111's prompt chunking (modules/sd_hijack_clip.py, tokenize_line): the weighted
// pieces of a prompt tokenized without BOS/EOS or truncation into chunks of 75 tokens, each sent
// to the encoder as BOS + 75 + EOS with a multiplier per token; a full chunk moves the words
// after its last comma (at most 20 tokens back) to the next; BREAK closes a chunk; a textual-
// inversion embedding's name takes as many positions as the embedding has vectors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "tokenizer/clip_tokenizer.h"
#include "tokenizer/prompt_attention.h"

namespace sdxl::pipeline {

inline constexpr int64_t kChunkTokens = 75;       // between BOS and EOS
inline constexpr int64_t kMaxPromptChunks = 20;   // 1500 tokens: beyond it a prompt is refused
inline constexpr int64_t kCommaBacktrack = 20;    // the webui's comma_padding_backtrack default

// One embedding as one encoder sees it: its name's token ids and its vectors [n, hidden].
struct TokenEmbedding {
  std::string name;
  std::vector<int32_t> ids;
  Tensor vectors;
};

// Where an embedding's vectors go in a chunk: positions offset+1 .. offset+n (after BOS).
struct ChunkFix {
  int64_t offset = 0;
  const TokenEmbedding* embedding = nullptr;
};

struct PromptChunk {
  std::vector<int32_t> ids;         // 77: BOS, 75 tokens (EOS-padded), EOS
  std::vector<double> multipliers;  // 77
  std::vector<ChunkFix> fixes;
};

struct ChunkedPrompt {
  std::vector<PromptChunk> chunks;
  int64_t token_count = 0;  // 75 per closed non-final chunk plus the final one's tokens
};

// `embeddings`: those this encoder can place (longest name first among equal first tokens).
ChunkedPrompt chunk_prompt(const std::vector<tokenizer::WeightedText>& parsed, const tokenizer::ClipTokenizer& tokenizer,
                           const std::vector<TokenEmbedding>& embeddings = {});

// A chunk of nothing: BOS, then EOS to the end (the webui pads a batch's shorter prompts with it).
PromptChunk empty_chunk(const tokenizer::ClipTokenizer& tokenizer);

// What the OpenCLIP bigG encoder receives in the webui: every id after the first EOS set to 0.
std::vector<int32_t> ids_after_first_eos_zeroed(const std::vector<int32_t>& ids, int32_t eos);

}  // namespace sdxl::pipeline

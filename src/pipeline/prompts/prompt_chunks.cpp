#include "pipeline/prompts/prompt_chunks.h"

#include "core/error.h"
#include "pipeline/prompts/tokenizer_loader.h"

namespace sdxl::pipeline {
namespace {

// The embedding whose name's ids start at tokens[position] (the longest such), or null.
const TokenEmbedding* embedding_at(const std::vector<int32_t>& tokens, size_t position,
                                   const std::vector<TokenEmbedding>& embeddings) {
  const TokenEmbedding* best = nullptr;
  for (const auto& e : embeddings) {
    if (e.ids.empty() || position + e.ids.size() > tokens.size()) continue;
    if (!std::equal(e.ids.begin(), e.ids.end(), tokens.begin() + static_cast<std::ptrdiff_t>(position))) continue;
    if (!best || e.ids.size() > best->ids.size()) best = &e;
  }
  return best;
}

}  // namespace

PromptChunk empty_chunk(const tokenizer::ClipTokenizer& tokenizer) {
  PromptChunk chunk;
  chunk.ids.assign(kChunkTokens + 2, tokenizer.eos_id());
  chunk.ids.front() = tokenizer.bos_id();
  chunk.multipliers.assign(kChunkTokens + 2, 1.0);
  return chunk;
}

ChunkedPrompt chunk_prompt(const std::vector<tokenizer::WeightedText>& parsed, const tokenizer::ClipTokenizer& tok,
                           const std::vector<TokenEmbedding>& embeddings) {
  const std::vector<int32_t> comma = with_tokenizer_errors([&] { return tok.token_ids(","); });
  const int32_t comma_token = comma.size() == 1 ? comma[0] : -1;
  ChunkedPrompt out;
  PromptChunk chunk;
  int64_t last_comma = -1;

  auto next_chunk = [&](bool is_last) {
    const int64_t size = static_cast<int64_t>(chunk.ids.size());
    out.token_count += is_last ? size : kChunkTokens;
    chunk.ids.resize(kChunkTokens, tok.eos_id());
    chunk.multipliers.resize(kChunkTokens, 1.0);
    chunk.ids.insert(chunk.ids.begin(), tok.bos_id());
    chunk.ids.push_back(tok.eos_id());
    chunk.multipliers.insert(chunk.multipliers.begin(), 1.0);
    chunk.multipliers.push_back(1.0);
    last_comma = -1;
    out.chunks.push_back(std::move(chunk));
    chunk = PromptChunk();
    SDXL_CHECK(static_cast<int64_t>(out.chunks.size()) <= kMaxPromptChunks, InvalidArgument, "[prompt] the prompt needs more than ",
               kMaxPromptChunks, " chunks of ", kChunkTokens, " tokens; shorten it");
  };

  for (const auto& piece : parsed) {
    if (tokenizer::is_break(piece)) {
      next_chunk(false);
      continue;
    }
    const std::vector<int32_t> tokens = with_tokenizer_errors([&] { return tok.token_ids(piece.text); });
    size_t position = 0;
    while (position < tokens.size()) {
      const int32_t token = tokens[position];
      const int64_t size = static_cast<int64_t>(chunk.ids.size());
      if (token == comma_token) {
        last_comma = size;
      } else if (size == kChunkTokens && last_comma != -1 && size - last_comma <= kCommaBacktrack) {
        // The words after the chunk's last comma move to the next chunk.
        const auto at = static_cast<std::ptrdiff_t>(last_comma + 1);
        std::vector<int32_t> moved_ids(chunk.ids.begin() + at, chunk.ids.end());
        std::vector<double> moved_multipliers(chunk.multipliers.begin() + at, chunk.multipliers.end());
        chunk.ids.resize(static_cast<size_t>(at));
        chunk.multipliers.resize(static_cast<size_t>(at));
        next_chunk(false);
        chunk.ids = std::move(moved_ids);
        chunk.multipliers = std::move(moved_multipliers);
      }
      if (static_cast<int64_t>(chunk.ids.size()) == kChunkTokens) next_chunk(false);

      const TokenEmbedding* embedding = embedding_at(tokens, position, embeddings);
      if (!embedding) {
        chunk.ids.push_back(token);
        chunk.multipliers.push_back(piece.weight);
        ++position;
        continue;
      }
      const int64_t vectors = embedding->vectors.dim(0);
      if (static_cast<int64_t>(chunk.ids.size()) + vectors > kChunkTokens) next_chunk(false);
      chunk.fixes.push_back({static_cast<int64_t>(chunk.ids.size()), embedding});
      chunk.ids.insert(chunk.ids.end(), static_cast<size_t>(vectors), 0);
      chunk.multipliers.insert(chunk.multipliers.end(), static_cast<size_t>(vectors), piece.weight);
      position += embedding->ids.size();
    }
  }
  if (!chunk.ids.empty() || out.chunks.empty()) next_chunk(true);
  return out;
}

std::vector<int32_t> ids_after_first_eos_zeroed(const std::vector<int32_t>& ids, int32_t eos) {
  std::vector<int32_t> out = ids;
  bool seen = false;
  for (auto& id : out) {
    if (seen) id = 0;
    seen = seen || id == eos;
  }
  return out;
}

}  // namespace sdxl::pipeline

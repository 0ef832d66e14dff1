// SDXL textual-inversion embeddings as AUTOMATIC1111 reads them: a .safetensors (or torch .pt/.bin) file whose name
// (without the extension) is the word that calls it, holding `clip_l` [n, 768] and `clip_g`
// [n, 1280]: n vectors, each taking one token position in both encoders.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "pipeline/prompts/prompt_chunks.h"

namespace sdxl::pipeline {

struct TextualInversion {
  std::string name;
  Tensor clip_l, clip_g;  // [n, 768], [n, 1280] for the real encoders; f32
};

// The embeddings of `dir` whose names occur in any of `texts` (others are not read, so one bad
// file does not break prompts that do not use it). Throws naming the file for a file that is
// not an SDXL embedding (missing tensors, different vector counts, more than 75 vectors).
std::vector<TextualInversion> load_textual_inversions(const std::filesystem::path& dir,
                                                      const std::vector<std::string>& texts);

// What a folder of embeddings offers, from the files' headers (no vector is read): each
// .safetensors file by name, with its vector count and widths, or why it cannot be used.
struct EmbeddingEntry {
  std::string name;
  std::filesystem::path file;
  int64_t vectors = 0, clip_l_width = 0, clip_g_width = 0;
  std::string problem;  // empty: usable
};
std::vector<EmbeddingEntry> list_textual_inversions(const std::filesystem::path& dir);

// The embeddings as one encoder places them: names tokenized with its tokenizer, its vectors
// (clip_l for the first encoder, clip_g for the second), checked against its hidden size.
std::vector<TokenEmbedding> token_embeddings(const std::vector<TextualInversion>& embeddings,
                                             const tokenizer::ClipTokenizer& tokenizer, bool second_encoder,
                                             int64_t hidden_size);

}  // namespace sdxl::pipeline

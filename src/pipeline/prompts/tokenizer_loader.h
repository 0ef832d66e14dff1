// Reads a CLIPTokenizer folder (vocab.json, merges.txt, tokenizer_config.json,
// special_tokens_map.json) into a ClipTokenizer, as transformers' from_pretrained does.
#pragma once

#include <filesystem>

#include "tokenizer/clip_tokenizer.h"

namespace sdxl::pipeline {

// Throws sdxl::Error naming the file for a missing or malformed file or a vocab/merges mismatch.
// `vocab_dir`: where vocab.json and merges.txt are, when not in `dir` (sdxl's shipped vocabulary).
tokenizer::ClipTokenizer load_clip_tokenizer(const std::filesystem::path& dir, const std::filesystem::path& vocab_dir = {});

// Runs a tokenizer call, turning tokenizer errors into sdxl::Error.
template <typename Fn>
auto with_tokenizer_errors(Fn fn) -> decltype(fn());

}  // namespace sdxl::pipeline

#include "pipeline/prompts/tokenizer_loader_inl.h"

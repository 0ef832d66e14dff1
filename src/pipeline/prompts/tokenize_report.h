// `sdxl tokenize`: what each tokenizer of a model gives a text, as the text encoders receive it.
#pragma once

#include <filesystem>
#include <string>

#include "pipeline/prompts/prompt_encoder.h"

namespace sdxl::pipeline {

struct TokenizeRequest {
  std::filesystem::path model;
  std::string text;
  PromptSyntax syntax = PromptSyntax::Plain;
  std::filesystem::path embedding_dir;  // A1111: textual-inversion names take their vectors' places (id 0)
  bool as_json = false;
};

// Text: "tokenizer: <77 ids>\ntokenizer_2: <77 ids>\n" (one line per chunk under A1111 syntax).
// JSON: {"parts": [[text, weight], ...], "tokenizer": {"ids": [[77 ids], ...], "weights": [[77], ...]},
// "tokenizer_2": {...}}: one inner list per chunk; tokenizer_2's ids are what the bigG encoder
// receives (under A1111 syntax every id after the first EOS is 0, as the webui sends them).
std::string tokenize_report(const TokenizeRequest& request);

}  // namespace sdxl::pipeline

// `sdxl tokenize`: the ids each tokenizer of a model gives a text.
#pragma once

#include <filesystem>
#include <string>

namespace sdxl::pipeline {

// "tokenizer: <77 ids>\ntokenizer_2: <77 ids>\n" for the tokenizer folders the model has.
std::string tokenize_report(const std::filesystem::path& model_dir, const std::string& text);

}  // namespace sdxl::pipeline

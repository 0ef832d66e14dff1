#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "sdxl/sdxl.hpp"

namespace sdxl::cli {

namespace {
struct TokenizeOptions {
  std::string model;
  std::string text;
  std::string syntax = "plain";
  std::string embedding_dir;
  bool json = false;
};
}  // namespace

Command add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Show the token ids each tokenizer of a model gives a prompt, exactly as the text encoders receive\n"
                  "them: BOS, the tokens (at most 75), EOS, then padding to 77; under --prompt-syntax a1111 one such\n"
                  "chunk per 75 tokens, with each token's emphasis weight (--json).");
  cmd->add_option("-m,--model", options->model, "Pipeline folder (with model_index.json)")->required();
  cmd->add_option("text", options->text, "The prompt (UTF-8)")->required();
  cmd->add_option("--prompt-syntax", options->syntax,
                  "plain: diffusers' (77 tokens, brackets are text); a1111: AUTOMATIC1111's emphasis, BREAK and chunks")
      ->check(CLI::IsMember({"plain", "a1111"}))
      ->capture_default_str();
  cmd->add_option("--embedding-dir", options->embedding_dir, "a1111: textual-inversion embeddings (NAME.safetensors)");
  cmd->add_flag("--json", options->json,
                "One JSON object: {\"parts\": [[text, weight], ...], \"tokenizer\": {\"ids\": [[77 ids], ...],\n"
                "\"weights\": [[77 numbers], ...]}, \"tokenizer_2\": {...}}");
  return [cmd, options]() -> int {
    if (!cmd->parsed()) return -1;
    std::fputs(api::tokenize(options->model, options->text, options->syntax, options->embedding_dir, options->json).c_str(),
               stdout);
    return 0;
  };
}

}  // namespace sdxl::cli

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
};
}  // namespace

Command add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "tokenize", "Show the token ids each tokenizer of a model gives a prompt: BOS, the tokens (at most 75),\n"
                  "EOS, then padding to 77, exactly as the text encoders receive them.");
  cmd->add_option("-m,--model", options->model, "Pipeline folder (with model_index.json)")->required();
  cmd->add_option("text", options->text, "The prompt (UTF-8)")->required();
  return [cmd, options]() -> int {
    if (!cmd->parsed()) return -1;
    std::fputs(api::tokenize(options->model, options->text).c_str(), stdout);
    return 0;
  };
}

}  // namespace sdxl::cli

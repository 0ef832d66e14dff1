// `--lora FILE[:WEIGHT]` as the commands take it.
#pragma once

#include <string>

namespace sdxl::cli {

struct LoraArg {
  std::string path;
  double weight = 1.0;
};

// The text after the last colon is the weight when it is a number (a path may hold colons of
// its own); a weight that is not finite, or no file at the path, is a usage error naming `option`.
LoraArg parse_lora_arg(const std::string& text, const char* option);

}  // namespace sdxl::cli

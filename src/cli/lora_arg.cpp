#include "cli/lora_arg.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>

namespace sdxl::cli {

LoraArg parse_lora_arg(const std::string& text, const char* option) {
  LoraArg l{text, 1.0};
  const size_t colon = text.rfind(':');
  if (colon != std::string::npos && colon > 0) {
    const std::string tail = text.substr(colon + 1);
    char* end = nullptr;
    const double w = std::strtod(tail.c_str(), &end);
    if (!tail.empty() && end && *end == '\0') {
      if (!std::isfinite(w)) throw CLI::ValidationError(std::string(option) + ": the weight of '" + text + "' is not finite");
      l = {text.substr(0, colon), w};
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(l.path, ec)) throw CLI::ValidationError(std::string(option) + ": no file '" + l.path + "'");
  return l;
}

}  // namespace sdxl::cli

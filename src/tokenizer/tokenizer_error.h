// The tokenizer's own error type: DESIGN keeps src/tokenizer free of sdxl core, so the
// pipeline translates these into sdxl::Error at its boundary.
#pragma once

#include <stdexcept>
#include <string>

namespace sdxl::tokenizer {

class TokenizerError : public std::runtime_error {
 public:
  enum class Kind { InvalidText, InvalidFiles };
  TokenizerError(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace sdxl::tokenizer

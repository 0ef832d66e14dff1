#pragma once

#include "core/error.h"
#include "tokenizer/tokenizer_error.h"

namespace sdxl::pipeline {

template <typename Fn>
auto with_tokenizer_errors(Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const tokenizer::TokenizerError& e) {
    throw Error(e.kind() == tokenizer::TokenizerError::Kind::InvalidText ? ErrorCode::InvalidArgument
                                                                         : ErrorCode::Format,
                e.what());
  }
}

}  // namespace sdxl::pipeline

// The C API edge: exceptions become status codes and a thread-local message.
#pragma once

#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "core/error.h"
#include "pipeline/prompts/prompt_encoder.h"
#include "sdxl/sdxl.h"

namespace sdxl::capi {

// A string the caller frees with sdxl_free_string.
inline char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

// Bytes the caller frees with sdxl_free_bytes.
inline void copy_bytes(const std::vector<uint8_t>& in, unsigned char** bytes, size_t* size) {
  *bytes = static_cast<unsigned char*>(std::malloc(in.empty() ? 1 : in.size()));
  if (!*bytes) throw std::bad_alloc();
  if (!in.empty()) std::memcpy(*bytes, in.data(), in.size());
  *size = in.size();
}

inline std::string& last_error() {
  thread_local std::string message;
  return message;
}
inline std::string& last_error_parameter() {
  thread_local std::string parameter;
  return parameter;
}

inline sdxl_status status_of(sdxl::ErrorCode code) {
  switch (code) {
    case sdxl::ErrorCode::InvalidArgument: return SDXL_STATUS_INVALID_ARGUMENT;
    case sdxl::ErrorCode::Io: return SDXL_STATUS_IO_ERROR;
    case sdxl::ErrorCode::Format: return SDXL_STATUS_FORMAT_ERROR;
    case sdxl::ErrorCode::Unsupported: return SDXL_STATUS_UNSUPPORTED;
    case sdxl::ErrorCode::OutOfMemory: return SDXL_STATUS_OUT_OF_MEMORY;
    case sdxl::ErrorCode::Internal: return SDXL_STATUS_INTERNAL_ERROR;
    case sdxl::ErrorCode::Cancelled: return SDXL_STATUS_CANCELLED;
  }
  return SDXL_STATUS_INTERNAL_ERROR;
}

template <typename Body>
sdxl_status guarded(Body body) {
  last_error_parameter().clear();
  try {
    body();
    last_error().clear();
    return SDXL_STATUS_OK;
  } catch (const sdxl::Error& e) {
    last_error() = e.what();
    last_error_parameter() = e.parameter();
    return status_of(e.code());
  } catch (const std::bad_alloc&) {
    last_error() = "out of memory";
    return SDXL_STATUS_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error() = std::string("internal error: ") + e.what();
    return SDXL_STATUS_INTERNAL_ERROR;
  }
}

// An enum value a C caller passed, as the int it stored: in C++ an enum object holding a value
// outside its enumerators is undefined, so it is read as its bytes before it is checked.
template <typename CEnum>
int c_enum_value(const CEnum& value) {
  static_assert(sizeof(CEnum) == sizeof(int), "a C enum is an int");
  int out = 0;
  std::memcpy(&out, &value, sizeof out);
  return out;
}

// "plain" (or NULL) and "a1111", the prompt syntaxes of sdxl.h.
inline sdxl::pipeline::PromptSyntax prompt_syntax(const char* name) {
  const std::string s = name ? name : "plain";
  if (s == "plain") return sdxl::pipeline::PromptSyntax::Plain;
  SDXL_CHECK_PARAM(s == "a1111", InvalidArgument, "prompt_syntax", "[prompt] prompt syntax '", s, "' is not one of plain, a1111");
  return sdxl::pipeline::PromptSyntax::A1111;
}

}  // namespace sdxl::capi

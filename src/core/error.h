// sdxl::Error: the one exception type used inside the library. Its message names the stage
// ("[safetensors] file: tensor 'x' ..."), its code maps onto the C API's status codes.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace sdxl {

enum class ErrorCode {
  InvalidArgument,  // a bad value from the user (CLI flag, API parameter)
  Io,               // a file could not be opened, read, mapped or written
  Format,           // a file's contents are malformed or inconsistent
  Unsupported,      // well-formed, but a feature or value we do not implement
  OutOfMemory,
  Internal,         // a bug: a broken invariant
  Cancelled,        // the caller asked to stop (a progress callback's answer)
};

const char* error_code_name(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, std::string parameter = "")
      : std::runtime_error(message), code_(code), parameter_(std::move(parameter)) {}
  ErrorCode code() const { return code_; }
  // The generation parameter at fault, by its sdxl_generate_params member name ("steps",
  // "init_image"), so that a front end can name its own field for it; "" when none is.
  const std::string& parameter() const { return parameter_; }

 private:
  ErrorCode code_;
  std::string parameter_;
};

// Concatenates any streamable values: str("tensor '", name, "' has ", n, " dims").
template <typename... Parts>
std::string str(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

template <typename... Parts>
[[noreturn]] void fail(ErrorCode code, Parts&&... parts) {
  throw Error(code, str(std::forward<Parts>(parts)...));
}

template <typename... Parts>
[[noreturn]] void fail_parameter(const char* parameter, ErrorCode code, Parts&&... parts) {
  throw Error(code, str(std::forward<Parts>(parts)...), parameter);
}

}  // namespace sdxl

// Checks a condition that bad input can break; throws sdxl::Error with the message.
#define SDXL_CHECK(cond, code, ...)                    \
  do {                                                 \
    if (!(cond)) ::sdxl::fail(::sdxl::ErrorCode::code, __VA_ARGS__); \
  } while (0)
// The same for a generation parameter's value: the error names the parameter (Error::parameter).
#define SDXL_CHECK_PARAM(cond, code, parameter, ...)                              \
  do {                                                                          \
    if (!(cond)) ::sdxl::fail_parameter(parameter, ::sdxl::ErrorCode::code, __VA_ARGS__); \
  } while (0)

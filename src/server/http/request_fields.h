// Reading a JSON request body field by field: each value checked for type and range, and any
// problem a RequestError naming the field, which the routes answer as a 4xx.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sdxl::server {

// A request the server refuses: the HTTP status, the field at fault ("" for the whole body)
// and what is wrong.
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, std::string field, const std::string& message)
      : std::runtime_error(message), status_(status), field_(std::move(field)) {}
  // The library's refusal (sdxl_last_error), naming its parameter (sdxl_last_error_parameter),
  // which each API family renames into its own field (in_terms_of).
  static RequestError from_library(int status, std::string parameter, const std::string& message) {
    RequestError e(status, std::move(parameter), message);
    e.library_parameter_ = true;
    return e;
  }
  int status() const { return status_; }
  const std::string& field() const { return field_; }
  // The same error with a library parameter named as `field_of` says ("steps" -> "cfg_scale"),
  // the field leading the message; any other error as it is.
  RequestError in_terms_of(std::string (*field_of)(const std::string& parameter)) const {
    if (!library_parameter_ || field_.empty() || !field_of) return *this;
    const std::string field = field_of(field_);
    return RequestError(status_, field, field + ": " + what());
  }

 private:
  int status_;
  std::string field_;
  bool library_parameter_ = false;
};

// ASCII letters lowered (names matched in any case: scripts, model names).
std::string ascii_lowercase(std::string s);

// Deeper bodies are refused: AUTOMATIC1111's fields nest a few levels (ControlNet's units four).
constexpr size_t kMaxJsonDepth = 32;

// The body as a JSON object; 400 when it is not one, nests deeper than kMaxJsonDepth or has a
// NUL in a string.
nlohmann::json parse_body(const std::string& body);

class Fields {
 public:
  explicit Fields(const nlohmann::json& object) : object_(object) {}
  bool has(const char* name) const;  // present and not null
  std::string text(const char* name, const std::string& fallback) const;
  std::optional<std::string> optional_text(const char* name) const;
  int64_t integer(const char* name, int64_t fallback, int64_t min, int64_t max) const;
  double number(const char* name, double fallback, double min, double max) const;
  // Any int, any finite number: the type only, where the library checks the value's bounds.
  int int32(const char* name, int fallback) const;
  double finite(const char* name, double fallback) const;
  bool boolean(const char* name, bool fallback) const;
  std::vector<std::string> texts(const char* name) const;  // a string or a list of strings
  const nlohmann::json& raw(const char* name) const;       // null when absent
  [[noreturn]] void bad(const char* name, const std::string& message, int status = 422) const;

 private:
  const nlohmann::json& object_;
};

}  // namespace sdxl::server

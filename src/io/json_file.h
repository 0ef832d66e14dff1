// Reading JSON files into typed configs: errors name the file and the field.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sdxl::io {

// Parses a JSON file that must hold an object. Throws Io / Format errors naming the file.
nlohmann::json read_json_object(const std::filesystem::path& path, const char* stage);

// Typed access to one JSON object with the file name kept for messages.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string file, const char* stage)
      : object_(object), file_(std::move(file)), stage_(stage) {}

  bool has(const char* key) const;  // present and not null
  int64_t integer(const char* key, int64_t fallback) const;
  double number(const char* key, double fallback) const;
  bool boolean(const char* key, bool fallback) const;
  std::string string(const char* key, const std::string& fallback) const;
  std::optional<std::string> optional_string(const char* key) const;
  std::optional<int64_t> optional_integer(const char* key) const;
  std::optional<double> optional_number(const char* key) const;
  std::vector<int64_t> integers(const char* key, const std::vector<int64_t>& fallback) const;
  std::vector<std::string> strings(const char* key, const std::vector<std::string>& fallback) const;
  // An int or a list of ints, expanded to `count` entries (diffusers accepts both forms).
  std::vector<int64_t> per_level(const char* key, int64_t fallback, size_t count) const;

  [[noreturn]] void bad(const char* key, const std::string& why) const;
  [[noreturn]] void unsupported(const char* key, const std::string& value, const std::string& supported) const;
  const nlohmann::json& raw() const { return object_; }
  const std::string& file() const { return file_; }

 private:
  const nlohmann::json* find(const char* key) const;
  const nlohmann::json& object_;
  std::string file_;
  const char* stage_;
};

}  // namespace sdxl::io

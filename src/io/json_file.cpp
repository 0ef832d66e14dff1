#include "io/json_file.h"

#include "io/input_file.h"

#include <climits>
#include <cmath>
#include <fstream>
#include <sstream>

namespace sdxl::io {

using nlohmann::json;

json read_json_object(const std::filesystem::path& path, const char* stage) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(ErrorCode::Io, "[", stage, "] ", path.string(), ": cannot open (missing file?)");
  const std::string text = read_regular_file(path, std::string("[") + stage + "]", size_t{64} << 20);
  // nlohmann parses any depth but dumps, compares and copies recursively: a config nested
  // thousands deep is refused while it is parsed.
  const auto bounded = [&](int depth, json::parse_event_t, json&) {
    if (depth > 64) fail(ErrorCode::Format, "[", stage, "] ", path.string(), ": nests deeper than 64 levels");
    return true;
  };
  json value;
  try {
    value = json::parse(text, bounded);
  } catch (const json::exception& e) {
    fail(ErrorCode::Format, "[", stage, "] ", path.string(), ": invalid JSON: ", e.what());
  }
  if (!value.is_object()) fail(ErrorCode::Format, "[", stage, "] ", path.string(), ": not a JSON object");
  return value;
}

const json* JsonFields::find(const char* key) const {
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::has(const char* key) const { return find(key) != nullptr; }

void JsonFields::bad(const char* key, const std::string& why) const {
  fail(ErrorCode::Format, "[", stage_, "] ", file_, ": field '", key, "' ", why);
}

void JsonFields::unsupported(const char* key, const std::string& value, const std::string& supported) const {
  fail(ErrorCode::Unsupported, "[", stage_, "] ", file_, ": ", key, " = ", value, " is not supported (supported: ",
       supported, ")");
}

int64_t JsonFields::integer(const char* key, int64_t fallback) const {
  auto v = optional_integer(key);
  return v ? *v : fallback;
}

std::optional<int64_t> JsonFields::optional_integer(const char* key) const {
  const json* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    bad(key, "is out of range: " + v->dump());
  if (v->is_number_integer()) return v->get<int64_t>();
  // Integral floats (1.0) appear in hand-edited configs; anything else is an error. The range
  // check comes first: converting an out-of-range double to an integer is undefined.
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) return static_cast<int64_t>(d);
  }
  bad(key, "must be an integer, got " + v->dump());
}

double JsonFields::number(const char* key, double fallback) const {
  auto v = optional_number(key);
  return v ? *v : fallback;
}

std::optional<double> JsonFields::optional_number(const char* key) const {
  const json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad(key, "must be a number, got " + v->dump());
  return v->get<double>();
}

bool JsonFields::boolean(const char* key, bool fallback) const {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_boolean()) bad(key, "must be true or false, got " + v->dump());
  return v->get<bool>();
}

std::string JsonFields::string(const char* key, const std::string& fallback) const {
  auto v = optional_string(key);
  return v ? *v : fallback;
}

std::optional<std::string> JsonFields::optional_string(const char* key) const {
  const json* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) bad(key, "must be a string, got " + v->dump());
  return v->get<std::string>();
}

std::vector<int64_t> JsonFields::integers(const char* key, const std::vector<int64_t>& fallback) const {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array()) bad(key, "must be a list of integers, got " + v->dump());
  std::vector<int64_t> out;
  for (const json& e : *v) {
    if (!e.is_number_integer()) bad(key, "must be a list of integers, got " + v->dump());
    out.push_back(e.get<int64_t>());
  }
  return out;
}

std::vector<std::string> JsonFields::strings(const char* key, const std::vector<std::string>& fallback) const {
  const json* v = find(key);
  if (!v) return fallback;
  if (!v->is_array()) bad(key, "must be a list of strings, got " + v->dump());
  std::vector<std::string> out;
  for (const json& e : *v) {
    if (!e.is_string()) bad(key, "must be a list of strings, got " + v->dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<int64_t> JsonFields::per_level(const char* key, int64_t fallback, size_t count) const {
  const json* v = find(key);
  if (!v) return std::vector<int64_t>(count, fallback);
  if (v->is_number_integer()) return std::vector<int64_t>(count, v->get<int64_t>());
  std::vector<int64_t> out = integers(key, {});
  if (out.size() != count)
    bad(key, "has " + std::to_string(out.size()) + " entries, expected one per block (" + std::to_string(count) + ")");
  return out;
}

}  // namespace sdxl::io

#include "server/http/request_fields.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "server/http/json_depth.h"

namespace sdxl::server {

nlohmann::json parse_body(const std::string& body) {
  if (json_nesting_depth(body, kMaxJsonDepth) > kMaxJsonDepth)
    throw RequestError(400, "", "the body nests arrays and objects more than " + std::to_string(kMaxJsonDepth) + " deep");
  if (json_has_nul_escape(body)) throw RequestError(400, "", "the body has a NUL character (\\u0000) in a string");
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw RequestError(400, "", "the body is not valid JSON");
  if (!j.is_object()) throw RequestError(400, "", "the body must be a JSON object");
  return j;
}

bool Fields::has(const char* name) const {
  auto it = object_.find(name);
  return it != object_.end() && !it->is_null();
}

const nlohmann::json& Fields::raw(const char* name) const {
  static const nlohmann::json null;
  auto it = object_.find(name);
  return it == object_.end() ? null : *it;
}

std::string ascii_lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

void Fields::bad(const char* name, const std::string& message, int status) const {
  throw RequestError(status, name, std::string(name) + ": " + message);
}

std::string Fields::text(const char* name, const std::string& fallback) const {
  if (!has(name)) return fallback;
  const auto& v = raw(name);
  if (!v.is_string()) bad(name, "must be a string");
  return v.get<std::string>();
}

std::optional<std::string> Fields::optional_text(const char* name) const {
  if (!has(name)) return std::nullopt;
  return text(name, "");
}

int64_t Fields::integer(const char* name, int64_t fallback, int64_t min, int64_t max) const {
  if (!has(name)) return fallback;
  const auto& v = raw(name);
  int64_t out = 0;
  if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() == std::floor(v.get<double>()) &&
             std::abs(v.get<double>()) < 9e15) {
    out = static_cast<int64_t>(v.get<double>());
  } else {
    bad(name, "must be an integer");
  }
  if (out < min || out > max) bad(name, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + std::to_string(out));
  return out;
}

double Fields::number(const char* name, double fallback, double min, double max) const {
  if (!has(name)) return fallback;
  const auto& v = raw(name);
  if (!v.is_number()) bad(name, "must be a number");
  const double out = v.get<double>();
  if (!std::isfinite(out) || out < min || out > max)
    bad(name, "must be between " + nlohmann::json(min).dump() + " and " + nlohmann::json(max).dump());
  return out;
}

int Fields::int32(const char* name, int fallback) const {
  return static_cast<int>(integer(name, fallback, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

double Fields::finite(const char* name, double fallback) const {
  if (!has(name)) return fallback;
  const auto& v = raw(name);
  if (!v.is_number()) bad(name, "must be a number");
  const double out = v.get<double>();
  if (!std::isfinite(out)) bad(name, "must be a finite number");
  return out;
}

bool Fields::boolean(const char* name, bool fallback) const {
  if (!has(name)) return fallback;
  const auto& v = raw(name);
  if (!v.is_boolean()) bad(name, "must be true or false");
  return v.get<bool>();
}

std::vector<std::string> Fields::texts(const char* name) const {
  if (!has(name)) return {};
  const auto& v = raw(name);
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) bad(name, "must be a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string()) bad(name, "must be a list of strings");
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace sdxl::server

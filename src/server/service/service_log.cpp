#include "server/service/service_log.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace sdxl::server {
namespace {

LogSettings settings;
std::mutex write_mutex;  // one line at a time from every thread

const char* level_name(sdxl_log_level level) {
  switch (level) {
    case SDXL_LOG_LEVEL_DEBUG: return "debug";
    case SDXL_LOG_LEVEL_INFO: return "info";
    case SDXL_LOG_LEVEL_WARN: return "warn";
    default: return "error";
  }
}

// UTC, milliseconds: 2026-12-07T10:40:00.123Z
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const int millis = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                utc.tm_min, utc.tm_sec, millis);
  return text;
}

// A text line's value: bare when it is one word, else JSON-quoted (spaces, quotes, newlines).
std::string text_value(const nlohmann::json& value) {
  if (!value.is_string()) return value.dump();
  const std::string& s = value.get_ref<const std::string&>();
  bool bare = !s.empty();
  for (unsigned char c : s) bare = bare && c > ' ' && c != '"' && c != '=' && c < 0x7f;
  return bare ? s : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void library_message(sdxl_log_level level, const char* message, void*) {
  std::string text = message ? message : "";
  while (!text.empty() && text.back() == '\n') text.pop_back();
  service_log(level, "library", {}, text);
}

}  // namespace

void configure_service_log(const LogSettings& s) {
  settings = s;
  // The library's info lines are its own progress chatter: shown at debug.
  sdxl_set_log_level(s.level == SDXL_LOG_LEVEL_DEBUG ? s.level : std::max(s.level, SDXL_LOG_LEVEL_WARN));
  sdxl_set_log_callback(library_message, nullptr);
}

const LogSettings& service_log_settings() { return settings; }

void service_log(sdxl_log_level level, const std::string& event, const LogFields& fields, const std::string& message) {
  if (level < settings.level) return;
  std::string line;
  if (settings.format == LogFormat::Json) {
    nlohmann::json object = {{"time", timestamp()}, {"level", level_name(level)}, {"event", event}};
    for (const auto& [name, value] : fields) object[name] = value;
    if (!message.empty()) object["message"] = message;
    line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = timestamp() + " " + level_name(level) + " " + event;
    for (const auto& [name, value] : fields) line += " " + name + "=" + text_value(value);
    if (!message.empty()) line += ": " + message;
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

LogFormat log_format_named(const std::string& name) {
  if (name == "text") return LogFormat::Text;
  if (name == "json") return LogFormat::Json;
  throw std::invalid_argument("expected text or json, got '" + name + "'");
}

sdxl_log_level log_level_named(const std::string& name) {
  if (name == "debug") return SDXL_LOG_LEVEL_DEBUG;
  if (name == "info") return SDXL_LOG_LEVEL_INFO;
  if (name == "warn" || name == "warning") return SDXL_LOG_LEVEL_WARN;
  if (name == "error") return SDXL_LOG_LEVEL_ERROR;
  throw std::invalid_argument("expected debug, info, warn or error, got '" + name + "'");
}

}  // namespace sdxl::server

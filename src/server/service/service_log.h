// The lines `sdxl serve` and `sdxl worker` write to stderr: one per request and per job, and the
// operator's notices, as text ("2026-12-07T10:40:00.123Z info request request_id=... status=200")
// or one JSON object a line (--log-format json) for a log shipper. The library's own messages
// come out the same way. Prompts and images stay out unless --log-prompts; secrets always.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sdxl/sdxl.h"

namespace sdxl::server {

enum class LogFormat { Text, Json };

struct LogSettings {
  LogFormat format = LogFormat::Text;
  sdxl_log_level level = SDXL_LOG_LEVEL_INFO;
  bool prompts = false;  // --log-prompts: a job's line carries its prompt
};

// Sets the format and level for this process, the library's messages included.
void configure_service_log(const LogSettings& settings);
const LogSettings& service_log_settings();

using LogFields = std::vector<std::pair<std::string, nlohmann::json>>;
// One line: `event` ("request", "job", "draining", ...), its fields, and a message for people.
void service_log(sdxl_log_level level, const std::string& event, const LogFields& fields, const std::string& message = "");

// "--log-format": "text" or "json"; "--log-level": debug, info, warn, error. Throws
// std::invalid_argument naming the value otherwise.
LogFormat log_format_named(const std::string& name);
sdxl_log_level log_level_named(const std::string& name);

}  // namespace sdxl::server

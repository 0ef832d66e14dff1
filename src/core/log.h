// Logging: a level and a sink. The library never writes to stdout; the default sink is stderr,
// and the C API lets an embedding program install its own.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace sdxl {

enum class LogLevel { Debug = 0, Info = 1, Warn = 2, Error = 3, Off = 4 };

using LogSink = std::function<void(LogLevel, const std::string&)>;

void set_log_level(LogLevel level);
LogLevel log_level();
void set_log_sink(LogSink sink);  // an empty sink restores the default (stderr)
void log_message(LogLevel level, const std::string& message);

template <typename... Parts>
void log_info(Parts&&... parts) {
  if (log_level() <= LogLevel::Info) log_message(LogLevel::Info, str(std::forward<Parts>(parts)...));
}
template <typename... Parts>
void log_warn(Parts&&... parts) {
  if (log_level() <= LogLevel::Warn) log_message(LogLevel::Warn, str(std::forward<Parts>(parts)...));
}
template <typename... Parts>
void log_debug(Parts&&... parts) {
  if (log_level() <= LogLevel::Debug) log_message(LogLevel::Debug, str(std::forward<Parts>(parts)...));
}

}  // namespace sdxl

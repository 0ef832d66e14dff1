// This machine's memory as /proc/meminfo says: AUTOMATIC1111's /memory route reports it, and a
// checkpoint switch asks whether the new model fits beside the old.
#pragma once

#include <cstdint>

namespace sdxl::server {

struct SystemMemory {
  int64_t total_bytes = 0, available_bytes = 0;  // MemTotal, MemAvailable; 0 where unreadable
};
SystemMemory system_memory();

}  // namespace sdxl::server

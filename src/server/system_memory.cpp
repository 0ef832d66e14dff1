#include "server/system_memory.h"

#include <fstream>
#include <string>

namespace sdxl::server {

SystemMemory system_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kib = 0;
  SystemMemory m;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") m.total_bytes = kib * 1024;
    if (key == "MemAvailable:") m.available_bytes = kib * 1024;
  }
  return m;
}

}  // namespace sdxl::server

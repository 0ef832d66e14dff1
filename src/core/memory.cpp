#include "core/memory.h"

#include <cstdlib>  // defines __GLIBC__ on glibc systems, which the check below needs
#include <fstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sdxl {

namespace {

// A "Name:   N kB" line of a /proc file, in GiB (-1 when absent).
double proc_field_gib(const char* file, const std::string& field) {
  std::ifstream status(file);
  for (std::string line; std::getline(status, line);)
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(field.size())) / (1024.0 * 1024.0);
  return -1.0;
}

double status_gib(const std::string& field) {
  const double gib = proc_field_gib("/proc/self/status", field);
  return gib < 0 ? 0.0 : gib;
}

}  // namespace

double resident_gib() { return status_gib("VmRSS:"); }
double peak_resident_gib() { return status_gib("VmHWM:"); }
double available_memory_gib() { return proc_field_gib("/proc/meminfo", "MemAvailable:"); }

void return_free_memory_to_system() {
#if defined(__GLIBC__)
  // Also releases whole free pages inside the heaps (not only at their tops), in every arena.
  malloc_trim(0);
#endif
}

}  // namespace sdxl

#include "server/service/service_metrics.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "sdxl/sdxl.h"
#include "server/system_memory.h"

namespace sdxl::server {
namespace {

// A "name: value" line of sdxl_build_info().
std::string build_fact(const std::string& name) {
  std::istringstream lines(sdxl_build_info());
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(name + ": ", 0) == 0) return line.substr(name.size() + 2);
  return "";
}

double resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  long long pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

const double process_start_seconds =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

std::vector<double> ServiceMetrics::seconds_bounds() {
  return {0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800};
}

void ServiceMetrics::write(metrics::Exposition& out) const {
  http_requests.write(out);
  http_seconds.write(out);
  jobs.write(out);
  queue_wait.write(out);
  job_seconds.write(out);
  images.write(out);
  steps.write(out);
  out.gauge("sdxl_steps_per_second", "Denoising steps per second of the last step measured", steps_per_second.load());
  model_loads.write(out);
  model_load_failures.write(out);
  lora_swaps.write(out);
}

ServiceMetrics& service_metrics() {
  static ServiceMetrics metrics;
  return metrics;
}

std::string route_family(const std::string& path) {
  if (starts_with(path, "/sdapi/")) return "a1111";
  if (starts_with(path, "/controlnet/")) return "controlnet";
  if (starts_with(path, "/v1/jobs")) return "jobs";
  if (starts_with(path, "/v1/")) return "openai";
  if (path == "/metrics" || path == "/health" || path == "/ready") return "service";
  if (path == "/" || path == "/index.html") return "web";
  return "other";
}

void write_process_gauges(metrics::Exposition& out, const std::string& precision) {
  out.gauge("sdxl_build_info", "Constant 1: the build and how it runs", 1,
            {{"version", sdxl_version()}, {"revision", build_fact("revision")}, {"isa", build_fact("kernels")}, {"precision", precision}});
  out.gauge("process_resident_memory_bytes", "Resident memory of this process", resident_bytes());
  out.gauge("process_start_time_seconds", "When this process started, seconds since the Unix epoch", process_start_seconds);
  const SystemMemory memory = system_memory();
  out.gauge("sdxl_memory_available_bytes", "The machine's available memory (MemAvailable)", static_cast<double>(memory.available_bytes));
}

}  // namespace sdxl::server

#include "server/job_backend.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <random>

namespace sdxl::server {

std::string new_job_id(int hex_digits) {
  static std::mt19937_64 generator{std::random_device{}()};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  std::string id;
  while (static_cast<int>(id.size()) < hex_digits) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(generator()));
    id += text;
  }
  id.resize(static_cast<size_t>(hex_digits));
  return id;
}

const char* state_name(JobState state) {
  switch (state) {
    case JobState::Queued: return "queued";
    case JobState::Running: return "running";
    case JobState::Succeeded: return "succeeded";
    case JobState::Failed: return "failed";
    case JobState::Cancelled: return "cancelled";
  }
  return "unknown";
}

double JobView::progress() const {
  if (state == JobState::Succeeded) return 1.0;
  if (state == JobState::Queued || repeats <= 0) return 0.0;
  const double within = total > 0 ? static_cast<double>(step) / total : 0.0;
  return std::min(1.0, (repeat + within) / repeats);
}

}  // namespace sdxl::server

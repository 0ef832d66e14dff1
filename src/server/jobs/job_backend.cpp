#include "server/jobs/job_backend.h"

#include <algorithm>
#include <cstdio>
#include <sys/random.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

#include "server/http/request_fields.h"

namespace sdxl::server {

std::string new_job_id(int hex_digits) {
  // The kernel's CSPRNG: an id stands for access to a job's result, so it must not be guessable
  // from ids seen before (a seeded std::mt19937_64 is, after 312 of them).
  std::vector<unsigned char> bytes(static_cast<size_t>(hex_digits + 1) / 2);
  size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t n = getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("getrandom failed: no random bytes for a job id");
    filled += static_cast<size_t>(n);
  }
  std::string id;
  char text[3];
  for (unsigned char b : bytes) {
    std::snprintf(text, sizeof text, "%02x", b);
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

// Within one call the stages come in this order, each with its share of the way: the shares
// are fixed, so the fraction never goes back when a stage starts counting from 0 (a decode after
// the last step); denoising has most of it, as its steps take most of the time.
double JobView::progress() const {
  if (state == JobState::Succeeded) return 1.0;
  if (state == JobState::Queued || repeats <= 0) return 0.0;
  struct Share {
    const char* stage;
    double from, to;
  };
  // A refiner's and the hires fix's second pass never meet in one call: they share a slot.
  static const Share shares[] = {{"encoding", 0.0, 0.05}, {"denoising", 0.05, 0.80}, {"refining", 0.80, 0.90},
                                 {"hires", 0.80, 0.90},   {"decoding", 0.90, 1.0}};
  double within = 0.0;
  for (const auto& s : shares)
    if (stage == s.stage) within = s.from + (s.to - s.from) * (total > 0 ? std::min(1.0, static_cast<double>(step) / total) : 0.0);
  return std::min(1.0, (repeat + within) / repeats);
}

double JobView::eta_seconds() const {
  if (state != JobState::Running) return 0.0;
  if (step_seconds > 0 && total > 0) {
    const int64_t left = int64_t{total} - step + int64_t{std::max(0, repeats - repeat - 1)} * total;
    return static_cast<double>(std::max<int64_t>(left, 0)) * step_seconds;
  }
  const double p = progress();
  return p > 0 ? elapsed_seconds / p - elapsed_seconds : 0.0;
}

void JobBackend::refuse_when_closed() const {
  if (intake_closed_)
    throw RequestError(503, "", "the server is shutting down and takes no new jobs; send it to another instance");
}

}  // namespace sdxl::server

#include "server/jobs/job_report.h"

#include <cmath>
#include <map>
#include <mutex>

#include "server/jobs/job_runner.h"
#include "server/service/service_log.h"
#include "server/service/service_metrics.h"

namespace sdxl::server {

void report_job(const std::string& job_id, const std::string& model, const JobRequest& job, const JobOutcome& outcome,
                double seconds, double queued_seconds) {
  ServiceMetrics& metrics = service_metrics();
  metrics.jobs.add({state_name(outcome.state)});
  metrics.job_seconds.observe(seconds);
  metrics.images.add({}, static_cast<double>(outcome.images.size()));
  const api::Generation& g = job.generation;
  LogFields fields{{"request_id", job.request_id},
                   {"job_id", job_id},
                   {"model", model},
                   {"outcome", state_name(outcome.state)},
                   {"seconds", std::round(seconds * 1000) / 1000},
                   {"queued_seconds", std::round(queued_seconds * 1000) / 1000},
                   {"size", std::to_string(g.width) + "x" + std::to_string(g.height)},
                   {"steps", g.steps},
                   {"sampler", g.sampler},
                   {"images", outcome.images.size()}};
  if (outcome.state == JobState::Failed) {
    fields.emplace_back("status", outcome.error_status);
    fields.emplace_back("error", outcome.error);
  }
  if (service_log_settings().prompts) {
    fields.emplace_back("prompt", g.prompts);
    if (!g.negative_prompts.empty()) fields.emplace_back("negative_prompt", g.negative_prompts);
  }
  service_log(outcome.state == JobState::Failed && outcome.error_status >= 500 ? SDXL_LOG_LEVEL_WARN : SDXL_LOG_LEVEL_INFO, "job",
              fields);
}

void count_lora_swap(const sdxl_engine* engine, const sdxl_images& images) {
  std::string set;
  for (int i = 0; i < images.lora_count; ++i) set += std::string(images.loras[i].path) + "\n" + std::to_string(images.loras[i].weight) + "\n";
  static std::mutex mutex;
  static std::map<const sdxl_engine*, std::string> last;  // an engine's address: a freed one's successor may reuse it (one swap miscounted)
  std::lock_guard<std::mutex> lock(mutex);
  auto [it, first] = last.emplace(engine, set);
  if (!first && it->second != set) service_metrics().lora_swaps.add();
  if (first && !set.empty()) service_metrics().lora_swaps.add();
  it->second = set;
}

}  // namespace sdxl::server

// What `sdxl serve` and `sdxl worker` count for Prometheus (GET /metrics): one set per process,
// filled where the events happen (the listener's answers, the job runner, the model catalog) and
// written out with the gauges a scrape reads at that moment. docs/OPERATIONS.md lists them.
#pragma once

#include <atomic>
#include <string>

#include "server/service/metrics_registry.h"

namespace sdxl::server {

struct ServiceMetrics {
  metrics::Counter http_requests{"sdxl_http_requests_total", "HTTP requests answered, by route family and status code",
                                 {"family", "code"}};
  metrics::Histogram http_seconds{"sdxl_http_request_duration_seconds",
                                  "Seconds from a request's head to its answer (a synchronous generation included)",
                                  seconds_bounds(), {"family"}};
  metrics::Counter jobs{"sdxl_jobs_total", "Jobs finished, by outcome (succeeded, failed, cancelled, dead_lettered)", {"outcome"}};
  metrics::Histogram queue_wait{"sdxl_queue_wait_seconds", "Seconds a job waited in the queue before it ran", seconds_bounds()};
  metrics::Histogram job_seconds{"sdxl_job_duration_seconds", "Seconds a job ran, every outcome", seconds_bounds()};
  metrics::Counter images{"sdxl_images_generated_total", "Images generated"};
  metrics::Counter steps{"sdxl_denoising_steps_total", "Denoising steps done (each sampler step of each stage)"};
  metrics::Histogram model_loads{"sdxl_model_load_duration_seconds", "Seconds each checkpoint load took", seconds_bounds()};
  metrics::Counter model_load_failures{"sdxl_model_load_failures_total", "Checkpoint loads that failed"};
  metrics::Counter lora_swaps{"sdxl_lora_swaps_total", "Generations that merged another set of LoRAs than the engine held"};
  std::atomic<double> steps_per_second{0};  // of the last step measured

  void write(metrics::Exposition& out) const;

 private:
  static std::vector<double> seconds_bounds();
};

// This process's metrics.
ServiceMetrics& service_metrics();

// The family a request path belongs to, a label of few values: "a1111", "controlnet", "openai",
// "jobs", "service" (metrics and probes), "web" (the page) or "other".
std::string route_family(const std::string& path);

// Gauges every scrape writes: build info (version, revision, kernels' ISA, precision), resident
// memory, the machine's available memory, the process's start time.
void write_process_gauges(metrics::Exposition& out, const std::string& precision);

}  // namespace sdxl::server

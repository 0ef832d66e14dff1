// What a job tells the operator once it has run: its outcome counted in the service metrics and
// one log line (request id, job id, model, size, steps, outcome, seconds; the prompt only under
// --log-prompts).
#pragma once

#include <string>

#include "sdxl/sdxl.h"
#include "server/jobs/job_request.h"

namespace sdxl::server {

struct JobOutcome;

void report_job(const std::string& job_id, const std::string& model, const JobRequest& job, const JobOutcome& outcome,
                double seconds, double queued_seconds);

// A generation that ran with another set of LoRAs than the last one on `engine` (the engine
// re-merged weights): counted as a LoRA swap.
void count_lora_swap(const sdxl_engine* engine, const sdxl_images& images);

}  // namespace sdxl::server

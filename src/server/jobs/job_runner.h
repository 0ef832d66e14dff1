// One generation job run on an engine: every repeat, the images encoded as PNG with their
// parameters text, progress and previews reported, stop requests honoured. The in-process queue
// and the Redis worker both run jobs through it; they differ only in where state goes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sdxl/sdxl.h"
#include "server/jobs/job_request.h"
#include "server/http/request_fields.h"
#include "server/jobs/job_backend.h"

namespace sdxl::server {

// Skip: end the current repeat without its images; Interrupt (AUTOMATIC1111's): finish the
// current repeat now with the images its latents have reached, and run no more; Cancel: stop,
// keeping nothing.
enum class StopRequest { None, SkipRepeat, Interrupt, Cancel };

class JobObserver {
 public:
  virtual ~JobObserver() = default;
  virtual void repeat_started(int repeat) = 0;
  // At every progress report; `preview_png` is empty when the report has no preview;
  // `step_seconds`: the measured time of one step of this stage so far (0 until two are seen).
  virtual void progressed(const sdxl_progress& progress, std::string preview_png, double step_seconds) = 0;
  // Asked at every progress report: what the job's owner wants now.
  virtual StopRequest stop_request() = 0;
  // A skipped repeat has stopped: the skip request is spent.
  virtual void skip_done() = 0;
};

struct JobOutcome {
  JobState state = JobState::Succeeded;
  std::vector<JobImage> images;
  std::vector<uint64_t> seeds;  // one per image, as images
  std::string error;
  int error_status = 500;
};

// The uploads are decoded once, for every repeat, and their memory given back after. The job is
// counted in the service metrics and logged (one line) under `job_id`, run on checkpoint `model`.
JobOutcome run_job(sdxl_engine* engine, const std::string& job_id, const std::string& model, const JobRequest& job,
                   JobObserver& observer);

// Unix milliseconds now (a job's submitted_ms).
int64_t unix_ms();

// A C API failure as the HTTP status it deserves: the caller's fault is a 4xx.
int http_status_of(sdxl_status status);
// The library's refusal just returned (`status`), as the RequestError that names its parameter
// (sdxl_last_error_parameter) for each API family to rename; `preface` leads the message.
RequestError library_refusal(sdxl_status status, const std::string& preface = "");

}  // namespace sdxl::server

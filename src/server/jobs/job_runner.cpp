#include "server/jobs/job_runner.h"

#include <malloc.h>

#include <chrono>
#include <memory>
#include <string>

#include "sdxl/generation.hpp"
#include "server/http/request_fields.h"
#include "server/jobs/job_report.h"
#include "server/service/service_metrics.h"

namespace sdxl::server {

int http_status_of(sdxl_status status) {
  switch (status) {
    case SDXL_STATUS_INVALID_ARGUMENT: return 422;
    case SDXL_STATUS_IO_ERROR: return 404;
    case SDXL_STATUS_FORMAT_ERROR: return 422;
    case SDXL_STATUS_UNSUPPORTED: return 422;
    case SDXL_STATUS_OUT_OF_MEMORY: return 507;
    case SDXL_STATUS_BUSY: return 503;
    default: return 500;
  }
}

RequestError library_refusal(sdxl_status status, const std::string& preface) {
  return RequestError::from_library(http_status_of(status), sdxl_last_error_parameter(), preface + sdxl_last_error());
}

namespace {

// The time a step takes, measured over the steps of the current stage (from the first report
// on: the first step's own time includes the stage's start-up).
class StepClock {
 public:
  double seconds_per_step(const sdxl_progress& p) {
    const std::string stage = p.stage ? p.stage : "";
    const auto now = std::chrono::steady_clock::now();
    if (stage != stage_ || p.total_steps != total_ || p.step < first_step_) {
      stage_ = stage;
      total_ = p.total_steps;
      first_step_ = p.step;
      first_ = now;
    }
    if (p.step <= first_step_) return 0.0;
    return std::chrono::duration<double>(now - first_).count() / (p.step - first_step_);
  }

 private:
  std::string stage_;
  int total_ = -1, first_step_ = 0;
  std::chrono::steady_clock::time_point first_;
};

// The stages whose steps are sampler steps (not the VAE's blocks while encoding or decoding).
bool sampling_stage(const std::string& stage) { return stage == "denoising" || stage == "refining" || stage == "hires"; }

// Steps done: each report that moves a stage's step on counts what it moved.
class StepCounter {
 public:
  void count(const sdxl_progress& p) {
    const std::string stage = p.stage ? p.stage : "";
    if (stage != stage_ || p.step < step_) step_ = 0;
    stage_ = stage;
    if (sampling_stage(stage) && p.total_steps > 0 && p.step > step_) {
      service_metrics().steps.add({}, p.step - step_);
      step_ = p.step;
    }
  }

 private:
  std::string stage_;
  int step_ = 0;
};

struct ProgressContext {
  JobObserver& observer;
  StepClock clock;
  StepCounter steps;
};

int on_progress(const sdxl_progress* progress, void* user) {
  auto& context = *static_cast<ProgressContext*>(user);
  JobObserver& observer = context.observer;
  std::string preview;
  if (progress->preview) {
    unsigned char* bytes = nullptr;
    size_t size = 0;
    if (sdxl_encode_image_png(progress->preview, progress->preview_width, progress->preview_height, 3, &bytes, &size) ==
        SDXL_STATUS_OK)
      preview.assign(reinterpret_cast<char*>(bytes), size);
    sdxl_free_bytes(bytes);
  }
  const double step_seconds = context.clock.seconds_per_step(*progress);
  if (step_seconds > 0 && sampling_stage(progress->stage ? progress->stage : "")) service_metrics().steps_per_second = 1.0 / step_seconds;
  context.steps.count(*progress);
  observer.progressed(*progress, std::move(preview), step_seconds);
  const StopRequest stop = observer.stop_request();
  return stop == StopRequest::None ? 0 : stop == StopRequest::Interrupt ? SDXL_PROGRESS_FINISH : 1;
}

}  // namespace

namespace {

JobOutcome run_repeats(sdxl_engine* engine, const JobRequest& job, JobObserver& observer) {
  JobOutcome outcome;
  std::unique_ptr<api::GenerateParams> call;
  try {
    call = std::make_unique<api::GenerateParams>(job.generation);
  } catch (const api::Failure& e) {
    return {JobState::Failed, {}, {}, e.what(), http_status_of(e.status())};
  }
  sdxl_generate_params& params = call->get();
  params.progress = on_progress;
  ProgressContext progress{observer, {}, {}};
  params.progress_user_data = &progress;
  for (int r = 0; r < job.repeats; ++r) {
    if (r > 0 && observer.stop_request() == StopRequest::Interrupt) break;  // interrupted between repeats
    observer.repeat_started(r);
    params.seed = repeat_seed(job, r);
    params.subseed = repeat_subseed(job, r);
    sdxl_images* out = nullptr;
    const sdxl_status status = sdxl_engine_generate(engine, &params, &out);
    if (status == SDXL_STATUS_CANCELLED && observer.stop_request() == StopRequest::SkipRepeat) {
      observer.skip_done();
      continue;
    }
    if (status == SDXL_STATUS_CANCELLED) return {JobState::Cancelled, {}, {}, "cancelled", 409};
    if (status != SDXL_STATUS_OK) return {JobState::Failed, {}, {}, sdxl_last_error(), http_status_of(status)};
    const std::unique_ptr<sdxl_images, void (*)(sdxl_images*)> owned(out, sdxl_images_free);
    count_lora_swap(engine, *out);
    for (int i = 0; i < out->count; ++i) {
      const bool same_seed = params.shared_generator || params.subseed_strength > 0;
      outcome.seeds.push_back(same_seed ? params.seed : params.seed + static_cast<uint64_t>(i));
      char* text = nullptr;
      api::check(sdxl_engine_infotext(engine, &params, out, i, &text));
      const std::string infotext = api::take_string(text);
      unsigned char* bytes = nullptr;
      size_t size = 0;
      api::check(sdxl_encode_image_as(out, i, job.output.format.c_str(), job.output.quality, job.output.lossless ? 1 : 0,
                                      infotext.c_str(), &bytes, &size));
      outcome.images.push_back({std::string(reinterpret_cast<char*>(bytes), size), infotext});
      sdxl_free_bytes(bytes);
    }
    if (observer.stop_request() == StopRequest::Interrupt) break;  // this repeat's images, then no more
  }
  return outcome;
}

}  // namespace

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

JobOutcome run_job(sdxl_engine* engine, const std::string& job_id, const std::string& model, const JobRequest& job,
                   JobObserver& observer) {
  const auto started = std::chrono::steady_clock::now();
  const double waited = job.submitted_ms > 0 ? std::max<int64_t>(0, unix_ms() - job.submitted_ms) / 1000.0 : 0.0;
  service_metrics().queue_wait.observe(waited);
  JobOutcome outcome = run_repeats(engine, job, observer);
  // Decoded uploads are megabytes: their memory goes back to the system, not to malloc's free
  // lists (which would keep it resident for the next large allocation of this thread).
  if (job.generation.image || job.generation.mask_image) malloc_trim(0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report_job(job_id, model, job, outcome, seconds, waited);
  return outcome;
}

}  // namespace sdxl::server

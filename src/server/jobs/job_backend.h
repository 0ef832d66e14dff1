// What the routes see of jobs, wherever they run: their states and results (JobView) and the
// JobBackend they are submitted to: the in-process JobQueue, or the Redis Streams queue that
// workers on other machines take jobs from.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/jobs/job_request.h"
#include "server/service/metrics_registry.h"

namespace sdxl::server {

enum class JobState { Queued, Running, Succeeded, Failed, Cancelled };
const char* state_name(JobState state);  // "queued", "running", ...
inline bool finished(JobState s) { return s == JobState::Succeeded || s == JobState::Failed || s == JobState::Cancelled; }

// A random id of `hex_digits` lowercase hex digits from the OS CSPRNG (4 random bits a digit).
std::string new_job_id(int hex_digits);

struct JobImage {
  std::string bytes;     // PNG, JPEG or WebP (the job's ImageOutput), with the parameters in it
  std::string infotext;  // AUTOMATIC1111's parameters text
};

// A job's state at one moment (a copy: readers never hold the queue's lock).
struct JobView {
  std::string id;
  JobState state = JobState::Queued;
  std::string stage;  // "denoising", "refining", "decoding", ...
  int step = 0, total = 0;
  int repeat = 0, repeats = 1;
  int queue_position = 0;  // 1-based while queued
  std::string preview_png;
  std::vector<JobImage> images;  // when succeeded
  std::vector<uint64_t> seeds;   // the seed of each image (seed + i, AUTOMATIC1111's numbering)
  std::string error;             // when failed
  int error_status = 500;
  std::string checkpoint;
  double elapsed_seconds = 0;
  double step_seconds = 0;  // the measured time of one step of the current stage (0: not yet known)
  uint64_t version = 0;  // grows with every change
  bool done() const { return finished(state); }
  double progress() const;  // 0..1 across repeats
  // Seconds left: the steps left (this repeat's and the later repeats') at the measured step
  // time; before a step time is known, AUTOMATIC1111's extrapolation of the elapsed time.
  double eta_seconds() const;
};

// Where the routes send jobs and read them back.
class JobBackend {
 public:
  virtual ~JobBackend() = default;
  // Checks `job` (the library's check: limits, memory, names; RequestError 4xx naming the
  // library's parameter), then queues it; 503 when full.
  virtual std::string submit(JobRequest job) = 0;
  // Queues a switch to checkpoint `name` (404 when there is none such).
  virtual std::string switch_checkpoint(const std::string& name) = 0;
  virtual std::optional<JobView> view(const std::string& id) const = 0;
  // A count that grows whenever any job changes: waits until it differs from `seen` or
  // `timeout` passes, and returns it (how one thread follows every waiting client).
  virtual uint64_t wait_any_change(uint64_t seen, std::chrono::milliseconds timeout) const = 0;
  // Cancels a queued or running job; false for an unknown or finished one.
  virtual bool cancel(const std::string& id) = 0;
  // AUTOMATIC1111's interrupt (stop the running job) and skip (stop its current repeat).
  virtual void interrupt() = 0;
  virtual void skip() = 0;
  virtual std::optional<JobView> running() const = 0;
  virtual size_t queued() const = 0;
  // Whether a request may name checkpoint `name` (a name or AUTOMATIC1111's "name [hash]").
  virtual bool has_checkpoint(const std::string& name) const = 0;
  // Whether a live worker could take a job for `checkpoint` ("": any): a synchronous caller
  // whose job waits past --no-worker-timeout with none is answered 503.
  virtual bool has_worker_for(const std::string& checkpoint) const {
    (void)checkpoint;
    return true;  // in process: the server's own worker
  }

  // Graceful shutdown: from now on every submit and switch is answered 503 (shutting down).
  void close_intake() { intake_closed_ = true; }
  bool intake_closed() const { return intake_closed_; }
  // Why a job could not start here now ("" when it could): the readiness probe's answer.
  virtual std::string not_ready_reason() const = 0;
  // Jobs this process must still finish before it may exit (queued or running here; in queue
  // mode none: the workers hold them).
  virtual bool busy() const { return false; }
  // Cancels every job this process holds (a drain that ran out of time).
  virtual void cancel_all() {}
  // The queue's gauges at a scrape: jobs waiting and running (in queue mode also the streams'
  // lengths, pending entries, dead letters and the live workers).
  virtual void write_metrics(metrics::Exposition& out) const = 0;

 protected:
  // Throws the 503 of a closed intake.
  void refuse_when_closed() const;

 private:
  std::atomic<bool> intake_closed_{false};
};

}  // namespace sdxl::server

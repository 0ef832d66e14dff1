// The server's one worker and its FIFO queue: every generation (and checkpoint switch) is a job
// with an id, run one at a time on the catalog's engine (generation is CPU-bound: two at once
// would only share the cores). HTTP threads submit jobs, read their state, wait for changes and
// cancel them; a cancelled or failed job never blocks the next.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/generation_spec.h"
#include "server/model_catalog.h"

namespace sdxl::server {

enum class JobState { Queued, Running, Succeeded, Failed, Cancelled };
const char* state_name(JobState state);  // "queued", "running", ...
inline bool finished(JobState s) { return s == JobState::Succeeded || s == JobState::Failed || s == JobState::Cancelled; }

struct JobImage {
  std::string png;       // with the parameters chunk
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
  std::vector<uint64_t> seeds;   // the seed of each repeat
  std::string error;             // when failed
  int error_status = 500;
  std::string checkpoint;
  double elapsed_seconds = 0;
  uint64_t version = 0;  // grows with every change
  bool done() const { return finished(state); }
  double progress() const;  // 0..1 across repeats
};

// Where the routes send jobs and read them back: the seam a queue across machines (Redis
// Streams) will implement beside the in-process JobQueue.
class JobBackend {
 public:
  virtual ~JobBackend() = default;
  // Checks `spec` (limits, memory, names: RequestError 4xx), then queues it; 503 when full.
  virtual std::string submit(GenerationSpec spec) = 0;
  // Queues a switch to checkpoint `name` (404 when there is none such).
  virtual std::string switch_checkpoint(const std::string& name) = 0;
  virtual std::optional<JobView> view(const std::string& id) const = 0;
  // Waits until the job changes past `version` or `timeout` passes; nothing for an unknown id.
  virtual std::optional<JobView> wait(const std::string& id, uint64_t version, std::chrono::milliseconds timeout) const = 0;
  // Cancels a queued or running job; false for an unknown or finished one.
  virtual bool cancel(const std::string& id) = 0;
  // AUTOMATIC1111's interrupt (stop the running job) and skip (stop its current repeat).
  virtual void interrupt() = 0;
  virtual void skip() = 0;
  virtual std::optional<JobView> running() const = 0;
  virtual size_t queued() const = 0;
};

// One process: one worker thread generating on the catalog's engine.
class JobQueue final : public JobBackend {
 public:
  JobQueue(ModelCatalog& catalog, size_t capacity, size_t kept_results);
  ~JobQueue() override;
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  std::string submit(GenerationSpec spec) override;
  std::string switch_checkpoint(const std::string& name) override;
  std::optional<JobView> view(const std::string& id) const override;
  std::optional<JobView> wait(const std::string& id, uint64_t version, std::chrono::milliseconds timeout) const override;
  bool cancel(const std::string& id) override;
  void interrupt() override;
  void skip() override;
  std::optional<JobView> running() const override;
  size_t queued() const override;

 private:
  struct Job;
  void work();
  void run(Job& job);
  void finish(Job& job, JobState state, std::string error = "", int status = 500);
  JobView view_of(const Job& job) const;
  static int on_progress(const sdxl_progress* progress, void* user);

  ModelCatalog& catalog_;
  const size_t capacity_, kept_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::deque<std::string> finished_;  // oldest first
  std::shared_ptr<Job> running_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace sdxl::server

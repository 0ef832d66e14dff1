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

#include "server/jobs/job_request.h"
#include "server/jobs/job_backend.h"
#include "server/jobs/model_catalog.h"

namespace sdxl::server {

// One process: one worker thread generating on the catalog's engine.
class JobQueue final : public JobBackend {
 public:
  JobQueue(ModelCatalog& catalog, size_t capacity, size_t kept_results);
  ~JobQueue() override;
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  std::string submit(JobRequest job) override;
  std::string switch_checkpoint(const std::string& name) override;
  std::optional<JobView> view(const std::string& id) const override;
  uint64_t wait_any_change(uint64_t seen, std::chrono::milliseconds timeout) const override;
  bool cancel(const std::string& id) override;
  void interrupt() override;
  void skip() override;
  std::optional<JobView> running() const override;
  size_t queued() const override;
  bool has_checkpoint(const std::string& name) const override { return catalog_.find_checkpoint(name).has_value(); }
  std::string not_ready_reason() const override;
  bool busy() const override;
  void cancel_all() override;
  void write_metrics(metrics::Exposition& out) const override;

 private:
  struct Job;
  void work();
  void notify_changed();
  void run(Job& job);
  void finish(Job& job, JobState state, std::string error = "", int status = 500);
  void end_queued(Job& job, JobState state, std::string error, int status);
  JobView view_of(const Job& job) const;
  class Observer;

  ModelCatalog& catalog_;
  const size_t capacity_, kept_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::deque<std::string> finished_;  // oldest first
  std::shared_ptr<Job> running_;
  uint64_t changes_ = 0;  // every change to any job
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace sdxl::server

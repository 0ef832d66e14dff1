#include "server/jobs/job_queue.h"

#include <algorithm>

#include "sdxl/sdxl.hpp"
#include "server/jobs/job_runner.h"
#include "server/http/request_fields.h"

namespace sdxl::server {

struct JobQueue::Job {
  std::string id;
  bool is_switch = false;
  std::string switch_to;
  JobRequest request;
  JobState state = JobState::Queued;
  std::string stage;
  int step = 0, total = 0, repeat = 0;
  std::string preview_png;
  std::vector<JobImage> images;
  std::vector<uint64_t> seeds;
  std::string error;
  int error_status = 500;
  std::string checkpoint;
  std::chrono::steady_clock::time_point started;
  double elapsed = 0;
  double step_seconds = 0;
  uint64_t version = 0;
  std::atomic<bool> cancel{false}, skip{false}, interrupt{false};
  bool cancelled_by_id = false;  // DELETE, not AUTOMATIC1111's interrupt (which keeps what is done)
  bool shut_down = false;        // cancelled by a shutdown's drain timeout: failed (503), not cancelled by its client
  JobQueue* queue = nullptr;
};

JobQueue::JobQueue(ModelCatalog& catalog, size_t capacity, size_t kept_results)
    : catalog_(catalog), capacity_(capacity), kept_(std::max<size_t>(kept_results, 1)) {
  worker_ = std::thread([this] { work(); });
}

JobQueue::~JobQueue() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    for (auto& j : queue_) j->cancel = true;
    if (running_) running_->cancel = true;
  }
  notify_changed();
  worker_.join();
}

std::string JobQueue::submit(JobRequest request) {
  refuse_when_closed();
  if (!request.checkpoint.empty() && !catalog_.find_checkpoint(request.checkpoint))
    throw RequestError(404, "checkpoint", "no checkpoint named '" + request.checkpoint + "'");
  request.generation.embedding_dir = catalog_.options().embedding_dir;
  // Every check the engine makes before it starts, now: a bad request never waits in the queue.
  const api::GenerateParams check(request.generation, api::GenerateParams::Images::StandIns);  // nothing decoded
  // Without an engine (a failed switch) the job is queued unchecked: running it loads one again,
  // and the engine checks it then.
  const sdxl_status status = catalog_.with_engine([&](sdxl_engine* e) { return e ? sdxl_engine_check(e, &check.get()) : SDXL_STATUS_OK; });
  if (status != SDXL_STATUS_OK) throw library_refusal(status);
  auto job = std::make_shared<Job>();
  job->id = new_job_id(32);
  request.submitted_ms = unix_ms();
  job->request = std::move(request);
  job->queue = this;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= capacity_)
      throw RequestError(503, "", "the queue is full (" + std::to_string(capacity_) + " jobs waiting); try again shortly");
    jobs_[job->id] = job;
    queue_.push_back(job);
  }
  notify_changed();
  return job->id;
}

std::string JobQueue::switch_checkpoint(const std::string& name) {
  refuse_when_closed();
  if (!catalog_.find_checkpoint(name)) throw RequestError(404, "sd_model_checkpoint", "no checkpoint named '" + name + "'");
  auto job = std::make_shared<Job>();
  job->id = new_job_id(32);
  job->is_switch = true;
  job->switch_to = name;
  job->queue = this;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.size() >= capacity_) throw RequestError(503, "", "the queue is full; try again shortly");
    jobs_[job->id] = job;
    queue_.push_back(job);
  }
  notify_changed();
  return job->id;
}

JobView JobQueue::view_of(const Job& j) const {
  JobView v;
  v.id = j.id;
  v.state = j.state;
  v.stage = j.stage;
  v.step = j.step;
  v.total = j.total;
  v.repeat = j.repeat;
  v.repeats = j.request.repeats;
  v.preview_png = j.preview_png;
  if (j.state == JobState::Succeeded) v.images = j.images;
  v.seeds = j.seeds;
  v.error = j.error;
  v.error_status = j.error_status;
  v.checkpoint = j.checkpoint;
  v.elapsed_seconds = j.state == JobState::Running
                          ? std::chrono::duration<double>(std::chrono::steady_clock::now() - j.started).count()
                          : j.elapsed;
  v.step_seconds = j.state == JobState::Running ? j.step_seconds : 0.0;
  v.version = j.version;
  if (j.state == JobState::Queued)
    for (size_t i = 0; i < queue_.size(); ++i)
      if (queue_[i].get() == &j) v.queue_position = static_cast<int>(i) + 1;
  return v;
}

std::optional<JobView> JobQueue::view(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return view_of(*it->second);
}

void JobQueue::notify_changed() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++changes_;
  }
  changed_.notify_all();
}

uint64_t JobQueue::wait_any_change(uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return changes_ != seen || stopping_; });
  return changes_;
}

// A job that never ran, ended (under the lock, already out of queue_): its uploads go, its state stays readable.
void JobQueue::end_queued(Job& job, JobState state, std::string error, int status) {
  job.state = state;
  job.error = std::move(error);
  job.error_status = status;
  job.request.generation.image.reset();
  job.request.generation.mask_image.reset();
  ++job.version;
  finished_.push_back(job.id);
}

bool JobQueue::cancel(const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return false;
    Job& job = *it->second;
    if (job.state == JobState::Running) {
      job.cancel = true;  // the worker's next progress report stops it
      job.cancelled_by_id = true;
      return true;
    }
    if (job.state != JobState::Queued) return false;
    queue_.erase(std::remove_if(queue_.begin(), queue_.end(), [&](const auto& q) { return q.get() == &job; }), queue_.end());
    end_queued(job, JobState::Cancelled, "cancelled", job.error_status);  // its status as before (the default)
  }
  notify_changed();
  return true;
}

void JobQueue::interrupt() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) running_->interrupt = true;
}

void JobQueue::skip() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_) running_->skip = true;
}

std::optional<JobView> JobQueue::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!running_) return std::nullopt;
  return view_of(*running_);
}

size_t JobQueue::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

std::string JobQueue::not_ready_reason() const {
  if (intake_closed()) return "shutting down";
  if (!catalog_.with_engine([](sdxl_engine* e) { return e != nullptr; })) return "no model is loaded";
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.size() >= capacity_) return "the queue is full";
  return "";
}

bool JobQueue::busy() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_ || !queue_.empty();
}

void JobQueue::write_metrics(metrics::Exposition& out) const {
  std::lock_guard<std::mutex> lock(mutex_);
  out.gauge("sdxl_queue_depth", "Jobs waiting in the queue", static_cast<double>(queue_.size()));
  out.gauge("sdxl_jobs_running", "Jobs running now", running_ ? 1 : 0);
}

void JobQueue::cancel_all() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& job : queue_) end_queued(*job, JobState::Failed, "the server shut down before this job ran (--drain-timeout)", 503);
    queue_.clear();
    if (running_) {
      running_->shut_down = true;
      running_->cancel = true;
    }
  }
  notify_changed();
}

void JobQueue::finish(Job& job, JobState state, std::string error, int status) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (job.cancelled_by_id && state == JobState::Succeeded) {
      // Cancelled after its last step: the client was told it is cancelled, so it is.
      state = JobState::Cancelled;
      error = "cancelled";
      job.images.clear();
    }
    if (job.shut_down && state == JobState::Cancelled) {
      state = JobState::Failed;
      error = "the server shut down before this job finished (--drain-timeout)";
      status = 503;
    }
    job.state = state;
    job.error = std::move(error);
    job.error_status = status;
    job.request.generation.image.reset();  // a finished job keeps its results, not its uploads
    job.request.generation.mask_image.reset();
    job.elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - job.started).count();
    ++job.version;
    running_.reset();
    finished_.push_back(job.id);
    while (finished_.size() > kept_) {
      jobs_.erase(finished_.front());
      finished_.pop_front();
    }
  }
  notify_changed();
}

// The in-process queue's view of a running job: state under the queue's lock, flags as atomics.
class JobQueue::Observer final : public JobObserver {
 public:
  Observer(JobQueue& queue, Job& job) : queue_(queue), job_(job) {}
  void repeat_started(int repeat) override {
    {
      std::lock_guard<std::mutex> lock(queue_.mutex_);
      job_.repeat = repeat;
      job_.step = 0;
      job_.stage.clear();  // the last repeat's "decoding" would read as this one's end
      ++job_.version;
    }
    queue_.notify_changed();
  }
  void progressed(const sdxl_progress& progress, std::string preview_png, double step_seconds) override {
    {
      std::lock_guard<std::mutex> lock(queue_.mutex_);
      job_.stage = progress.stage ? progress.stage : "";
      if (step_seconds > 0) job_.step_seconds = step_seconds;
      if (progress.total_steps > 0) {
        job_.step = progress.step;
        job_.total = progress.total_steps;
      }
      if (!preview_png.empty()) job_.preview_png = std::move(preview_png);
      ++job_.version;
    }
    queue_.notify_changed();
  }
  StopRequest stop_request() override {
    return job_.cancel       ? StopRequest::Cancel
           : job_.interrupt ? StopRequest::Interrupt
           : job_.skip      ? StopRequest::SkipRepeat
                            : StopRequest::None;
  }
  void skip_done() override { job_.skip = false; }

 private:
  JobQueue& queue_;
  Job& job_;
};

void JobQueue::run(Job& job) {
  if (job.is_switch) {
    catalog_.set_default(job.switch_to);
    job.checkpoint = catalog_.current();
    finish(job, JobState::Succeeded);
    return;
  }
  catalog_.use(job.request.checkpoint);
  job.checkpoint = catalog_.current();
  Observer observer(*this, job);
  JobOutcome outcome = run_job(catalog_.engine(), job.id, job.checkpoint, job.request, observer);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job.images = std::move(outcome.images);
    job.seeds = std::move(outcome.seeds);
  }
  finish(job, outcome.state, outcome.error, outcome.error_status);
}

void JobQueue::work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      running_ = job;
      job->state = JobState::Running;
      job->started = std::chrono::steady_clock::now();
      ++job->version;
    }
    notify_changed();
    try {
      run(*job);
    } catch (const RequestError& e) {
      finish(*job, JobState::Failed, e.what(), e.status());
    } catch (const std::exception& e) {
      finish(*job, JobState::Failed, e.what(), 500);
    }
  }
}

}  // namespace sdxl::server

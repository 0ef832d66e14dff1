// The front end's side of the Redis Streams queue (`sdxl serve --queue redis://...`): requests
// become stream entries, job state is read from Redis, and nothing about a job is kept in the
// process, so any number of front ends can serve the same jobs behind a load balancer. Redis
// being unreachable is a 503; the next request tries again.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/jobs/job_backend.h"
#include "server/queue/job_change_listener.h"
#include "server/queue/redis_client.h"
#include "server/queue/redis_job_store.h"

namespace sdxl::server {

struct RedisQueueOptions {
  size_t capacity = 16;       // jobs waiting in the stream at most; more get 503
  int result_ttl_s = 3600;    // how long a finished job's result stays in Redis
  int queued_ttl_s = 3600;    // a job no worker takes within this fails (its client told why)
  std::string lora_dir;       // where the parsers' LoRA paths lie (see job_codec.h)
  std::string controlnet_dir;  // and their ControlNet paths
  std::string image_encoder_dir;  // and their image encoders'
  std::string upscaler_dir;       // and the hires fix's upscaler models'
};

class RedisJobBackend final : public JobBackend {
 public:
  RedisJobBackend(RedisAddress address, RedisQueueOptions options);

  std::string submit(JobRequest job) override;
  std::string switch_checkpoint(const std::string& name) override;
  std::optional<JobView> view(const std::string& id) const override;
  // Woken by the workers' change messages; at most 250 ms apart, for messages lost while Redis is away.
  uint64_t wait_any_change(uint64_t seen, std::chrono::milliseconds timeout) const override {
    return listener_.wait_any(seen, std::min(timeout, std::chrono::milliseconds(250)));
  }
  bool cancel(const std::string& id) override;
  void interrupt() override;
  void skip() override;
  std::optional<JobView> running() const override;
  size_t queued() const override;
  bool has_checkpoint(const std::string& name) const override;
  bool has_worker_for(const std::string& checkpoint) const override;
  std::string not_ready_reason() const override;
  void write_metrics(metrics::Exposition& out) const override;

 private:
  void flag_running(const char* flag);
  // What the workers' engines would check first (limits, refiner, memory on their machines),
  // against the capacities they publish: RequestError when no live worker can run `spec`.
  // The capacity entries (JSON: model, capacity, expires_ms) of the workers alive now.
  std::vector<nlohmann::json> live_workers() const;
  void check_against_workers(const JobRequest& job) const;
  mutable RedisPool pool_;
  const QueueKeys keys_;
  const RedisQueueOptions options_;
  mutable JobChangeListener listener_;
};

}  // namespace sdxl::server

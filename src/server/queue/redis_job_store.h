// How jobs live in Redis, shared by the front ends (RedisJobBackend) and the workers: the key
// names, a job's hash read back as a JobView, and the state changes that must be atomic (Lua
// scripts: a cancel racing a worker's start, a start racing a finish).
//
//   STREAM                     jobs for any worker (entries: job, spec)
//   STREAM:model:NAME          jobs that name checkpoint NAME (only its workers read it)
//   STREAM:model:NAME:alive    set by NAME's workers while they live (expires)
//   STREAM:dead                jobs whose workers died max-deliveries times
//   STREAM:job:ID              the job: state, progress, preview, result (expires after it ends)
//   STREAM:running             ids of jobs running now (interrupt, progress)
//   STREAM:default-checkpoint  what AUTOMATIC1111's options set: jobs naming none go there
//   STREAM:changes             a channel: the id of every job whose hash changed
//   STREAM:capacity            per worker: its model, what its engine accepts, until when (JSON)
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/jobs/job_backend.h"
#include "server/queue/redis_client.h"

namespace sdxl::server {

struct QueueKeys {
  std::string stream;
  static constexpr const char* kGroup = "sdxl-workers";
  std::string jobs_for(const std::string& checkpoint) const {
    return checkpoint.empty() ? stream : stream + ":model:" + checkpoint;
  }
  std::string alive(const std::string& checkpoint) const { return stream + ":model:" + checkpoint + ":alive"; }
  std::string dead() const { return stream + ":dead"; }
  std::string job(const std::string& id) const { return stream + ":job:" + id; }
  std::string running() const { return stream + ":running"; }
  std::string default_checkpoint() const { return stream + ":default-checkpoint"; }
  std::string changes() const { return stream + ":changes"; }
  std::string capacity() const { return stream + ":capacity"; }
};

// "name [0123456789]" (AUTOMATIC1111's title) -> "name"; anything else as it is.
std::string plain_checkpoint_name(const std::string& name);

// Creates the consumer group on `stream` (and the stream) from its first entry; a group that
// exists already is left as it is.
void ensure_group(RedisConnection& redis, const std::string& stream);

// The job's hash (HGETALL) as a JobView; nothing when the hash is gone.
std::optional<JobView> job_view_of(const std::string& id, const RedisReply& hash);

// Scripts (EVAL KEYS ARGV). Each returns the job's state after it ran, or "" when there is no job.
// Each delivery of a job runs under its own owner token: the start script makes it the job's
// owner, and progress and results are written only by the owner. A worker stalled past the
// claim time (and so replaced) that wakes up finds its writes refused ("fenced") and drops them.
// start: KEYS job running changes; ARGV worker now_ms deliveries id owner -> "running" when the
// worker may run it (its owner now; a queued job's expiry is lifted while it runs)
extern const char* const kStartScript;
// progress: KEYS job changes; ARGV owner id [field value ...] -> {cancel, skip}, or {"fenced"}
extern const char* const kProgressScript;
// finish: KEYS job running changes stream dead; ARGV owner ("": unfenced, a burial) id entry
// group bury(0/1) spec deliveries [field value ...] -> "ok" (the entry acknowledged and deleted,
// the hash given its expiry), or "fenced" (nothing written)
extern const char* const kFinishScript;
// cancel: KEYS job running changes; ARGV now_ms ttl_s id -> the state after (queued jobs end at once)
extern const char* const kCancelScript;
// hand back (a worker shutting down before its job ends): KEYS job running changes stream; ARGV
// owner id entry group consumer idle_ms -> "queued" (the job queued again, its entry left
// pending and made idle, so that another worker's XAUTOCLAIM takes it now), or "fenced"
extern const char* const kHandBackScript;
// expire (a queued job no worker took by its expires_ms; the start script does the same): KEYS
// job changes; ARGV now_ms id -> the state after ("failed", with the job's expiry_error)
extern const char* const kExpireQueuedScript;

}  // namespace sdxl::server

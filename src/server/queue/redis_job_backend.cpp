#include "server/queue/redis_job_backend.h"

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "server/queue/job_codec.h"
#include "server/jobs/job_runner.h"
#include "server/http/request_fields.h"

namespace sdxl::server {

namespace {

// Ids are shared by every front end and stand for access to a result: 128 random bits.
constexpr int kIdDigits = 32;

// Redis trouble as the HTTP answer it deserves: unreachable is 503 (try again), anything else 500.
template <typename Body>
auto answering(Body body) {
  try {
    return body();
  } catch (const RedisUnavailable& e) {
    throw RequestError(503, "", std::string("the job queue is unreachable, try again shortly: ") + e.what());
  } catch (const RedisError& e) {
    throw RequestError(500, "", e.what());
  }
}

}  // namespace

RedisJobBackend::RedisJobBackend(RedisAddress address, RedisQueueOptions options)
    : pool_(address), keys_{address.stream}, options_(std::move(options)), listener_(address, keys_.changes()) {}

std::string RedisJobBackend::submit(JobRequest job) {
  refuse_when_closed();
  return answering([&] {
    if (job.checkpoint.empty())
      job.checkpoint = pool_.with([&](RedisConnection& r) { return r.command({"GET", keys_.default_checkpoint()}).text; });
    job.checkpoint = plain_checkpoint_name(job.checkpoint);
    if (!job.checkpoint.empty() && !has_checkpoint(job.checkpoint))
      throw RequestError(404, "checkpoint", "no worker serves checkpoint '" + job.checkpoint + "'");
    check_against_workers(job);
    const std::string stream = keys_.jobs_for(job.checkpoint);
    job.submitted_ms = now_ms();
    const std::string payload = encode_job(job, {options_.lora_dir, options_.controlnet_dir, options_.image_encoder_dir, options_.upscaler_dir});
    const std::string id = new_job_id(kIdDigits);
    pool_.with([&](RedisConnection& r) {
      ensure_group(r, stream);  // a Redis that restarted without its data has lost the group
      const auto waiting = r.pipeline({{"XLEN", stream}, {"XPENDING", stream, QueueKeys::kGroup}});
      const long long pending = waiting[1].items.empty() ? 0 : waiting[1].items[0].integer;
      if (waiting[0].integer - pending >= static_cast<long long>(options_.capacity))
        throw RequestError(503, "", "the queue is full (" + std::to_string(options_.capacity) + " jobs waiting); try again shortly");
      // The job's hash and its stream entry in one transaction: a job is either queued whole or not at all.
      r.pipeline({{"MULTI"},
                  {"HSET", keys_.job(id), "state", "queued", "version", "1", "repeats", std::to_string(job.repeats),
                   "submitted_ms", std::to_string(job.submitted_ms), "ttl", std::to_string(options_.result_ttl_s), "stream", stream,
                   "checkpoint", job.checkpoint, "expires_ms", std::to_string(job.submitted_ms + 1000LL * options_.queued_ttl_s),
                   "expiry_error", "no worker took this job within --queued-ttl (" + std::to_string(options_.queued_ttl_s) +
                                       " s): the workers for its checkpoint are busy or gone"},
                  // A job no worker takes does not wait forever: past expires_ms it fails (its
                  // client told why) and a worker that draws its entry drops it; its hash goes
                  // once that failure has been readable for the result time. Starting lifts both.
                  {"EXPIRE", keys_.job(id), std::to_string(options_.queued_ttl_s + options_.result_ttl_s)},
                  {"XADD", stream, "*", "job", id, "spec", payload},
                  {"EXEC"}});
      return 0;
    });
    return id;
  });
}

std::vector<nlohmann::json> RedisJobBackend::live_workers() const {
  const RedisReply entries = pool_.with([&](RedisConnection& r) { return r.command({"HGETALL", keys_.capacity()}); });
  std::vector<nlohmann::json> live;
  for (size_t i = 0; i + 1 < entries.items.size(); i += 2) {
    auto entry = nlohmann::json::parse(entries.items[i + 1].text, nullptr, false);
    if (entry.is_object() && entry.contains("capacity") && entry.value("expires_ms", 0LL) >= now_ms()) live.push_back(std::move(entry));
  }
  return live;
}

void RedisJobBackend::check_against_workers(const JobRequest& job) const {
  const api::GenerateParams check(job.generation, api::GenerateParams::Images::StandIns);  // nothing decoded
  std::optional<RequestError> refusal;
  for (const auto& entry : live_workers()) {
    if (!job.checkpoint.empty() && entry.value("model", "") != job.checkpoint) continue;
    const sdxl_status status = sdxl_check_capacity(entry["capacity"].dump().c_str(), &check.get());
    if (status == SDXL_STATUS_OK) return;  // a worker that can run it
    if (!refusal)
      refusal = library_refusal(status, "no worker can run this request: ");
  }
  // No live worker has said what it accepts: the job waits for one, and that worker checks it.
  if (refusal) throw *refusal;
}

std::string RedisJobBackend::switch_checkpoint(const std::string& name) {
  refuse_when_closed();
  return answering([&] {
    const std::string plain = plain_checkpoint_name(name);
    if (!has_checkpoint(plain)) throw RequestError(404, "sd_model_checkpoint", "no worker serves checkpoint '" + name + "'");
    const std::string id = new_job_id(kIdDigits);
    // Nothing to load here: jobs that name no checkpoint go to `plain`'s workers from now on.
    pool_.with([&](RedisConnection& r) {
      return r.pipeline({{"SET", keys_.default_checkpoint(), plain},
                         {"HSET", keys_.job(id), "state", "succeeded", "version", "1", "checkpoint", plain},
                         {"EXPIRE", keys_.job(id), std::to_string(options_.result_ttl_s)}});
    });
    return id;
  });
}

std::optional<JobView> RedisJobBackend::view(const std::string& id) const {
  return answering([&] {
    return pool_.with([&](RedisConnection& r) {
      RedisReply fields = r.command({"HGETALL", keys_.job(id)});
      const std::string* state = fields.field("state");
      const std::string* deadline = fields.field("expires_ms");
      if (state && *state == "queued" && deadline && std::atoll(deadline->c_str()) <= now_ms()) {
        r.command({"EVAL", kExpireQueuedScript, "2", keys_.job(id), keys_.changes(), std::to_string(now_ms()), id});
        fields = r.command({"HGETALL", keys_.job(id)});
      }
      return job_view_of(id, fields);
    });
  });
}

bool RedisJobBackend::cancel(const std::string& id) {
  return answering([&] {
    const RedisReply state = pool_.with([&](RedisConnection& r) {
      return r.command({"EVAL", kCancelScript, "3", keys_.job(id), keys_.running(), keys_.changes(), std::to_string(now_ms()),
                        std::to_string(options_.result_ttl_s), id});
    });
    return state.text == "cancelled" || state.text == "running";
  });
}

void RedisJobBackend::flag_running(const char* flag) {
  answering([&] {
    return pool_.with([&](RedisConnection& r) {
      for (const RedisReply& id : r.command({"SMEMBERS", keys_.running()}).items) r.command({"HSET", keys_.job(id.text), flag, "1"});
      return 0;
    });
  });
}

void RedisJobBackend::interrupt() { flag_running("interrupt"); }
void RedisJobBackend::skip() { flag_running("skip"); }

std::optional<JobView> RedisJobBackend::running() const {
  return answering([&]() -> std::optional<JobView> {
    const RedisReply ids = pool_.with([&](RedisConnection& r) { return r.command({"SMEMBERS", keys_.running()}); });
    for (const RedisReply& id : ids.items)
      if (auto v = view(id.text); v && v->state == JobState::Running) return v;
    return std::nullopt;
  });
}

size_t RedisJobBackend::queued() const {
  return answering([&] {
    return pool_.with([&](RedisConnection& r) -> size_t {
      const auto replies = r.pipeline({{"XLEN", keys_.stream}, {"SCARD", keys_.running()}});
      return static_cast<size_t>(std::max(0LL, replies[0].integer - replies[1].integer));
    });
  });
}

bool RedisJobBackend::has_worker_for(const std::string& checkpoint) const {
  if (!checkpoint.empty()) return has_checkpoint(checkpoint);
  return answering([&] { return !live_workers().empty(); });
}

std::string RedisJobBackend::not_ready_reason() const {
  if (intake_closed()) return "shutting down";
  try {
    const std::string fallback = pool_.with([&](RedisConnection& r) { return r.command({"GET", keys_.default_checkpoint()}).text; });
    if (!has_worker_for(fallback)) return fallback.empty() ? "no live worker" : "no live worker for checkpoint '" + fallback + "'";
  } catch (const std::exception& e) {
    return std::string("Redis is not reachable: ") + e.what();
  }
  return "";
}

void RedisJobBackend::write_metrics(metrics::Exposition& out) const {
  metrics::Exposition gauges;  // appended whole: a scrape never holds half of them
  // Redis away: the gauges are left out (absent series, not zeros that would read as an empty queue).
  try {
    const std::vector<nlohmann::json> workers = live_workers();
    std::vector<std::string> streams{keys_.stream};
    for (const auto& w : workers) {
      const std::string stream = keys_.jobs_for(w.value("model", ""));
      if (std::find(streams.begin(), streams.end(), stream) == streams.end()) streams.push_back(stream);
    }
    std::vector<std::vector<std::string>> commands;
    for (const auto& s : streams) commands.push_back({"XLEN", s});
    commands.push_back({"XLEN", keys_.dead()});
    commands.push_back({"SCARD", keys_.running()});
    const auto replies = pool_.with([&](RedisConnection& r) { return r.pipeline(commands); });
    gauges.family("sdxl_queue_stream_length", "Entries in a job stream (waiting and handed out)", "gauge");
    for (size_t i = 0; i < streams.size(); ++i) gauges.sample("sdxl_queue_stream_length", {{"stream", streams[i]}}, static_cast<double>(replies[i].integer));
    gauges.family("sdxl_queue_pending_entries", "Entries handed to a worker and not yet acknowledged", "gauge");
    for (size_t i = 0; i < streams.size(); ++i) {
      // A stream no job has reached yet has no consumer group to ask.
      const RedisReply pending = replies[i].integer == 0 ? RedisReply{}
                                 : pool_.with([&](RedisConnection& r) { return r.command({"XPENDING", streams[i], QueueKeys::kGroup}); });
      gauges.sample("sdxl_queue_pending_entries", {{"stream", streams[i]}}, pending.items.empty() ? 0.0 : static_cast<double>(pending.items[0].integer));
    }
    gauges.gauge("sdxl_queue_dead_letters", "Jobs in the dead-letter stream", static_cast<double>(replies[streams.size()].integer));
    gauges.gauge("sdxl_jobs_running", "Jobs running now on the workers", static_cast<double>(replies[streams.size() + 1].integer));
    gauges.gauge("sdxl_queue_workers", "Workers alive by their heartbeats", static_cast<double>(workers.size()));
  } catch (const std::exception&) {
    out.gauge("sdxl_queue_reachable", "Whether the front end reached Redis at this scrape", 0);
    return;
  }
  out.append(gauges);
  out.gauge("sdxl_queue_reachable", "Whether the front end reached Redis at this scrape", 1);
}

bool RedisJobBackend::has_checkpoint(const std::string& name) const {
  return answering([&] {
    return pool_.with([&](RedisConnection& r) { return r.command({"EXISTS", keys_.alive(plain_checkpoint_name(name))}).integer > 0; });
  });
}

}  // namespace sdxl::server

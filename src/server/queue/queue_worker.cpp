#include "server/queue/queue_worker.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "server/queue/job_codec.h"
#include "server/jobs/job_runner.h"
#include "server/jobs/model_catalog.h"
#include "server/queue/redis_job_store.h"
#include "server/http/request_fields.h"
#include "server/stop_signals.h"
#include "server/service/metrics_endpoint.h"
#include "server/service/service_log.h"
#include "server/service/service_metrics.h"

namespace sdxl::server {
namespace {

using std::chrono::milliseconds;

struct Entry {
  std::string stream, id, job, spec;
};

// [[id, [field, value, ...]], ...] as entries of `stream` (entries deleted meanwhile come as nil).
void take_entries(const std::string& stream, const RedisReply& list, std::vector<Entry>& out) {
  for (const RedisReply& e : list.items) {
    if (e.items.size() < 2 || e.items[1].nil()) continue;
    const std::string *job = e.items[1].field("job"), *spec = e.items[1].field("spec");
    out.push_back({stream, e.items[0].text, job ? *job : "", spec ? *spec : ""});
  }
}

std::string default_consumer_name() {
  char host[256] = "worker";
  gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

class Worker;

// A running job's progress into its hash, the cancel, skip and interrupt flags back (one round trip a
// step), written only while this delivery owns the job: a replaced worker's writes are fenced,
// and it stops.
class RedisObserver final : public JobObserver {
 public:
  RedisObserver(RedisConnection& redis, const QueueKeys& keys, std::string id, std::string owner, std::function<bool()> hand_back)
      : redis_(redis), key_(keys.job(id)), changes_(keys.changes()), id_(std::move(id)), owner_(std::move(owner)),
        hand_back_(std::move(hand_back)) {}
  void repeat_started(int repeat) override { write({"repeat", std::to_string(repeat), "step", "0", "stage", ""}); }
  void progressed(const sdxl_progress& p, std::string preview_png, double step_seconds) override {
    std::vector<std::string> set = {"stage", p.stage ? p.stage : ""};
    if (step_seconds > 0) set.insert(set.end(), {"step_ms", std::to_string(static_cast<long long>(step_seconds * 1000.0 + 0.5))});
    if (p.total_steps > 0) set.insert(set.end(), {"step", std::to_string(p.step), "total", std::to_string(p.total_steps)});
    if (!preview_png.empty()) set.insert(set.end(), {"preview", std::move(preview_png)});
    write(std::move(set));
  }
  StopRequest stop_request() override {
    return cancel_ || fenced_ || hand_back_() ? StopRequest::Cancel
           : interrupt_       ? StopRequest::Interrupt
           : skip_            ? StopRequest::SkipRepeat
                              : StopRequest::None;
  }
  void skip_done() override {
    skip_ = false;
    write({"skip", "0"});
  }
  bool fenced() const { return fenced_; }

 private:
  // Progress is worth losing, a job is not: while Redis is away the job runs on unreported.
  void write(std::vector<std::string> fields) {
    std::vector<std::string> command = {"EVAL", kProgressScript, "2", key_, changes_, owner_, id_};
    command.insert(command.end(), std::make_move_iterator(fields.begin()), std::make_move_iterator(fields.end()));
    try {
      const RedisReply flags = redis_.command(command);
      fenced_ = flags.items.size() == 1 && flags.items[0].text == "fenced";
      cancel_ = flags.items.size() == 3 && flags.items[0].text == "1";
      skip_ = flags.items.size() == 3 && flags.items[1].text == "1";
      interrupt_ = flags.items.size() == 3 && flags.items[2].text == "1";
    } catch (const RedisError&) {  // (called from inside the engine: nothing may escape)
    }
  }
  RedisConnection& redis_;
  const std::string key_, changes_, id_, owner_;
  const std::function<bool()> hand_back_;  // the drain ran out of time: stop, the job goes back to the queue
  bool cancel_ = false, skip_ = false, interrupt_ = false, fenced_ = false;
};

class Worker {
 public:
  Worker(const WorkerOptions& o, ModelCatalog& catalog, std::atomic<bool>& stopping, std::atomic<long long>& stop_ms)
      : o_(o),
        catalog_(catalog),
        stopping_(stopping),
        stop_ms_(stop_ms),
        keys_{o.address.stream},
        consumer_(o.name.empty() ? default_consumer_name() : o.name),
        model_(catalog.current()),
        streams_{keys_.jobs_for(""), keys_.jobs_for(model_)},
        redis_(o.address),
        claim_idle_(static_cast<long long>(o.claim_idle_s * 1000)),
        heartbeat_every_(std::clamp<long long>(claim_idle_.count() / 4, 50, 10000)) {}

  int run() {
    std::thread heartbeat([this] { beat(); });
    std::printf("sdxl: worker %s ready (model %s, streams %s and %s)\n", consumer_.c_str(), model_.c_str(), streams_[0].c_str(),
                streams_[1].c_str());
    std::fflush(stdout);
    bool was_down = false;
    while (!stopping_) {
      try {
        for (const auto& s : streams_) ensure_group(redis_, s);
        if (was_down) service_log(SDXL_LOG_LEVEL_INFO, "redis", {{"worker", consumer_}}, "Redis is back");
        was_down = false;
        while (!stopping_) {
          std::optional<Entry> entry = next();
          if (entry) handle(*entry);
        }
      } catch (const RedisUnavailable& e) {
        if (!was_down) service_log(SDXL_LOG_LEVEL_WARN, "redis", {{"worker", consumer_}}, std::string(e.what()) + "; retrying");
        was_down = true;
        std::this_thread::sleep_for(milliseconds(500));
      } catch (const RedisError& e) {  // NOGROUP after Redis lost its data, ...: make the groups again
        service_log(SDXL_LOG_LEVEL_ERROR, "worker", {{"worker", consumer_}}, e.what());
        std::this_thread::sleep_for(milliseconds(200));
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      beating_ = false;
    }
    beat_changed_.notify_all();
    heartbeat.join();
    try {
      redis_.command({"HDEL", keys_.capacity(), consumer_});
    } catch (const RedisError&) {
    }
    return 0;
  }

 private:
  // A pending job idle past claim_idle (its worker died) first, else a new one (waits up to 1 s).
  std::optional<Entry> next() {
    std::vector<Entry> found;
    for (const auto& s : streams_) {
      const RedisReply r = redis_.command(
          {"XAUTOCLAIM", s, QueueKeys::kGroup, consumer_, std::to_string(claim_idle_.count()), "0-0", "COUNT", "1"});
      if (r.items.size() >= 2) take_entries(s, r.items[1], found);
      if (!found.empty()) return found.front();
    }
    const RedisReply r = redis_.command({"XREADGROUP", "GROUP", QueueKeys::kGroup, consumer_, "COUNT", "1", "BLOCK", "1000",
                                         "STREAMS", streams_[0], streams_[1], ">", ">"});
    for (const RedisReply& stream : r.items)
      if (stream.items.size() == 2) take_entries(stream.items[0].text, stream.items[1], found);
    if (found.empty()) return std::nullopt;
    return found.front();
  }

  long long deliveries(const Entry& e) {
    const RedisReply r = redis_.command({"XPENDING", e.stream, QueueKeys::kGroup, e.id, e.id, "1"});
    return !r.items.empty() && r.items[0].items.size() == 4 ? r.items[0].items[3].integer : 1;
  }

  void acknowledge(const Entry& e) { redis_.pipeline({{"XACK", e.stream, QueueKeys::kGroup, e.id}, {"XDEL", e.stream, e.id}}); }

  void handle(const Entry& e) {
    const std::string key = keys_.job(e.job);
    const long long delivered = deliveries(e);
    if (delivered > o_.max_deliveries) return bury(e, delivered);
    // This delivery's owner token: only it may write the job's progress and result from now on.
    const std::string owner = consumer_ + ":" + std::to_string(delivered) + ":" + new_job_id(16);
    const RedisReply state = redis_.command({"EVAL", kStartScript, "3", key, keys_.running(), keys_.changes(), consumer_,
                                             std::to_string(now_ms()), std::to_string(delivered), e.job, owner});
    if (state.text != "running") return acknowledge(e);  // cancelled while queued, finished already, or gone
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_ = e;
    }
    beat_changed_.notify_all();
    JobOutcome outcome;
    try {
      JobRequest job = decode_job(e.spec, {o_.model.lora_dir, o_.model.controlnet_dir, o_.model.image_encoder_dir, o_.model.upscaler_dir});
      job.generation.embedding_dir = o_.model.embedding_dir;
      RedisObserver observer(redis_, keys_, e.job, owner, [this] { return drain_expired(); });
      outcome = run_job(catalog_.engine(), e.job, catalog_.current(), job, observer);
      if (observer.fenced()) outcome.state = JobState::Cancelled;  // the result is dropped below anyway
      else if (outcome.state == JobState::Cancelled && drain_expired()) return hand_back(e, owner);
    } catch (const RequestError& error) {
      outcome = {JobState::Failed, {}, {}, error.what(), error.status()};
    } catch (const std::exception& error) {
      outcome = {JobState::Failed, {}, {}, error.what(), 500};
    }
    store(e, owner, outcome);
    std::lock_guard<std::mutex> lock(mutex_);
    current_.reset();
  }

  // A stop signal came longer than the drain timeout ago.
  bool drain_expired() const {
    const long long asked = stop_ms_.load();
    return asked > 0 && now_ms() - asked >= static_cast<long long>(o_.drain_timeout_s * 1000);
  }

  // The running job back to the queue, unacknowledged and idle at once: another worker takes it
  // over on its next look (a job is never lost to a shutdown, nor finished twice).
  void hand_back(const Entry& e, const std::string& owner) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      current_.reset();  // first: the heartbeat's XCLAIM would make the entry busy again
    }
    const std::string result = redis_.command({"EVAL", kHandBackScript, "4", keys_.job(e.job), keys_.running(), keys_.changes(), e.stream,
                                               owner, e.job, e.id, QueueKeys::kGroup, consumer_,
                                               std::to_string(claim_idle_.count() + 1000)}).text;
    service_log(SDXL_LOG_LEVEL_WARN, "job", {{"job_id", e.job}, {"worker", consumer_}, {"outcome", "handed_back"}},
                result == "queued" ? "the drain timeout passed: handed back to the queue for another worker"
                                   : "the drain timeout passed, and the job had been taken over already");
  }

  // The result, then the acknowledgement, in one script; retried while Redis is away (the entry
  // stays pending meanwhile, so a worker that gives up here loses nothing). A delivery that no
  // longer owns the job (it was taken over while this worker stalled) writes nothing.
  void store(const Entry& e, const std::string& owner, const JobOutcome& outcome) {
    std::vector<std::string> set = {"state", state_name(outcome.state), "error", outcome.error,
                                    "error_status", std::to_string(outcome.error_status), "finished_ms", std::to_string(now_ms()),
                                    "checkpoint", model_, "images", std::to_string(outcome.images.size()), "preview", ""};
    std::string seeds;
    for (uint64_t s : outcome.seeds) seeds += (seeds.empty() ? "" : ",") + std::to_string(s);
    set.insert(set.end(), {"seeds", seeds});
    for (size_t i = 0; i < outcome.images.size(); ++i)
      set.insert(set.end(), {"image:" + std::to_string(i), outcome.images[i].bytes, "infotext:" + std::to_string(i), outcome.images[i].infotext});
    for (;;) {
      try {
        if (end_job(e, owner, false, "", set) == "fenced")  // a copy: a retry sends it again
          service_log(SDXL_LOG_LEVEL_WARN, "job", {{"job_id", e.job}, {"worker", consumer_}},
                      "taken over by another worker while this one stalled; its result is dropped");
        return;
      } catch (const RedisUnavailable&) {
        if (stopping_) return;
        std::this_thread::sleep_for(milliseconds(500));
      }
    }
  }

  // `fields` (the job's end state) and what every ended job gets, in one script: a new version,
  // out of the running set, its expiry, the entry acknowledged and deleted, the news published;
  // with `bury`, the entry copied to the dead-letter stream first. "fenced" when `owner` (non-
  // empty) no longer owns the job.
  std::string end_job(const Entry& e, const std::string& owner, bool bury, const std::string& deliveries, std::vector<std::string> fields) {
    std::vector<std::string> command = {"EVAL", kFinishScript, "5", keys_.job(e.job), keys_.running(), keys_.changes(), e.stream,
                                        keys_.dead(), owner, e.job, e.id, QueueKeys::kGroup, bury ? "1" : "0", e.spec, deliveries};
    command.insert(command.end(), std::make_move_iterator(fields.begin()), std::make_move_iterator(fields.end()));
    return redis_.command(command).text;
  }

  // A job whose workers keep dying: to the dead-letter stream, failed, never retried again.
  void bury(const Entry& e, long long delivered) {
    const std::string why = "the job was delivered " + std::to_string(delivered) + " times and its worker stopped each time; it is in " +
                            keys_.dead() + " and will not be retried";
    end_job(e, "", true, std::to_string(delivered),
            {"state", "failed", "error", why, "error_status", "500", "finished_ms", std::to_string(now_ms())});
    service_metrics().jobs.add({"dead_lettered"});
    service_log(SDXL_LOG_LEVEL_ERROR, "job", {{"job_id", e.job}, {"worker", consumer_}, {"outcome", "dead_lettered"}}, why);
  }

  // What front ends check requests against: this engine's capacity (its memory available now),
  // good until `expires_ms`.
  std::string capacity_entry(long long expires_ms) const {
    char* text = nullptr;
    if (sdxl_engine_capacity(catalog_.engine(), &text) != SDXL_STATUS_OK) return "";
    const std::string capacity = text;
    sdxl_free_string(text);
    return nlohmann::json{{"model", model_}, {"expires_ms", expires_ms}, {"capacity", nlohmann::json::parse(capacity)}}.dump();
  }

  // Keeps the running job's entry from looking idle (XCLAIM by its owner resets the idle time)
  // and says that this model has a live worker.
  void beat() {
    RedisConnection redis(o_.address, milliseconds(2000));
    std::unique_lock<std::mutex> lock(mutex_);
    while (beating_) {
      const std::optional<Entry> running = current_;
      lock.unlock();
      try {
        const long long lifetime = std::max<long long>(3 * heartbeat_every_, 5000);
        std::vector<std::vector<std::string>> commands = {
            {"SET", keys_.alive(model_), consumer_, "PX", std::to_string(lifetime)},
            {"HSET", keys_.capacity(), consumer_, capacity_entry(now_ms() + lifetime)}};
        if (running) {
          commands.push_back({"XCLAIM", running->stream, QueueKeys::kGroup, consumer_, "0", running->id, "JUSTID"});
          commands.push_back({"HSET", keys_.job(running->job), "heartbeat_ms", std::to_string(now_ms())});
        }
        redis.pipeline(commands);
      } catch (const RedisError&) {
      }
      lock.lock();
      beat_changed_.wait_for(lock, milliseconds(heartbeat_every_), [&] { return !beating_ || current_.has_value() != running.has_value(); });
    }
  }

  const WorkerOptions& o_;
  ModelCatalog& catalog_;
  std::atomic<bool>& stopping_;
  std::atomic<long long>& stop_ms_;  // when the first stop signal came (0: none)
  const QueueKeys keys_;
  const std::string consumer_, model_;
  const std::vector<std::string> streams_;
  RedisConnection redis_;
  const milliseconds claim_idle_;
  const long long heartbeat_every_;
  std::mutex mutex_;
  std::condition_variable beat_changed_;
  std::optional<Entry> current_;
  bool beating_ = true;
};

}  // namespace

int run_worker(const WorkerOptions& options) {
  StopSignals stop_signals;
  std::atomic<bool> stopping{false};
  std::atomic<long long> stop_ms{0};
  stop_signals.on_stop([&stopping, &stop_ms](int count) {
    if (count > 1) {
      service_log(SDXL_LOG_LEVEL_WARN, "shutdown", {{"signals", count}}, "a second stop signal: exiting now");
      std::_Exit(1);  // at once: the running job stays pending, and another worker takes it over
    }
    stop_ms = now_ms();
    stopping = true;
    service_log(SDXL_LOG_LEVEL_INFO, "draining", {}, "stop signal: no new job is taken; the running one finishes or is handed back");
  });
  ModelCatalog catalog(options.model);  // a model that cannot load ends the worker with its error
  std::unique_ptr<MetricsEndpoint> metrics;
  if (!options.metrics_host.empty())
    metrics = std::make_unique<MetricsEndpoint>(
        options.metrics_host, options.metrics_port,
        [&](metrics::Exposition& out) {
          write_process_gauges(out, options.model.precision);
          out.gauge("sdxl_draining", "1 once a shutdown has begun", stopping ? 1 : 0);
          service_metrics().write(out);
        },
        [&stopping]() -> std::string { return stopping ? "shutting down" : ""; });
  Worker worker(options, catalog, stopping, stop_ms);
  const int code = worker.run();
  service_log(SDXL_LOG_LEVEL_INFO, "stopped", {{"worker", options.name}});
  return code;
}

}  // namespace sdxl::server

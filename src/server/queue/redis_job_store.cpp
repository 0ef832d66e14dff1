#include "server/queue/redis_job_store.h"

#include <cstdlib>
#include <map>
#include <regex>

namespace sdxl::server {

std::string plain_checkpoint_name(const std::string& name) {
  static const std::regex title(R"((.*) \[[0-9a-f]{10}\])");
  std::smatch m;
  return std::regex_match(name, m, title) ? m[1].str() : name;
}

void ensure_group(RedisConnection& redis, const std::string& stream) {
  try {
    redis.command({"XGROUP", "CREATE", stream, QueueKeys::kGroup, "0", "MKSTREAM"});
  } catch (const RedisUnavailable&) {
    throw;
  } catch (const RedisError& e) {
    if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
  }
}

namespace {

JobState state_of(const std::string& text) {
  if (text == "running") return JobState::Running;
  if (text == "succeeded") return JobState::Succeeded;
  if (text == "failed") return JobState::Failed;
  if (text == "cancelled") return JobState::Cancelled;
  return JobState::Queued;
}

int number(const std::map<std::string, const std::string*>& f, const char* name, int fallback = 0) {
  const auto it = f.find(name);
  return it == f.end() ? fallback : std::atoi(it->second->c_str());
}

}  // namespace

std::optional<JobView> job_view_of(const std::string& id, const RedisReply& hash) {
  if (hash.items.empty()) return std::nullopt;
  std::map<std::string, const std::string*> f;
  for (size_t i = 0; i + 1 < hash.items.size(); i += 2) f[hash.items[i].text] = &hash.items[i + 1].text;
  const auto text = [&](const char* name) { return f.count(name) ? *f[name] : std::string(); };
  JobView v;
  v.id = id;
  v.state = state_of(text("state"));
  v.stage = text("stage");
  v.step = number(f, "step");
  v.total = number(f, "total");
  v.repeat = number(f, "repeat");
  v.repeats = number(f, "repeats", 1);
  v.preview_png = text("preview");
  v.error = text("error");
  v.error_status = number(f, "error_status", 500);
  v.checkpoint = text("checkpoint");
  v.version = std::strtoull(text("version").c_str(), nullptr, 10);
  const std::string seeds = text("seeds");
  for (size_t at = 0; at < seeds.size();) {
    const size_t comma = std::min(seeds.find(',', at), seeds.size());
    v.seeds.push_back(std::strtoull(seeds.substr(at, comma - at).c_str(), nullptr, 10));
    at = comma + 1;
  }
  if (v.state == JobState::Succeeded)
    for (int i = 0, n = number(f, "images"); i < n; ++i)
      v.images.push_back({text(("image:" + std::to_string(i)).c_str()), text(("infotext:" + std::to_string(i)).c_str())});
  const long long started = std::atoll(text("started_ms").c_str()), ended = std::atoll(text("finished_ms").c_str());
  if (started > 0) v.elapsed_seconds = static_cast<double>((ended > 0 ? ended : now_ms()) - started) / 1000.0;
  if (v.state == JobState::Running) v.step_seconds = static_cast<double>(std::atoll(text("step_ms").c_str())) / 1000.0;
  return v;
}

const char* const kStartScript = R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return '' end
if state ~= 'queued' and state ~= 'running' then return state end
local deadline = tonumber(redis.call('HGET', KEYS[1], 'expires_ms') or '')
if state == 'queued' and deadline and deadline <= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'failed', 'error', redis.call('HGET', KEYS[1], 'expiry_error') or 'expired in the queue',
             'error_status', '503', 'finished_ms', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('EXPIRE', KEYS[1], tonumber(redis.call('HGET', KEYS[1], 'ttl') or '3600'))
  redis.call('PUBLISH', KEYS[3], ARGV[4])
  return 'failed'
end
if redis.call('HGET', KEYS[1], 'cancel') == '1' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'error', 'cancelled', 'error_status', '409', 'finished_ms', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('SREM', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[1], tonumber(redis.call('HGET', KEYS[1], 'ttl') or '3600'))
  redis.call('PUBLISH', KEYS[3], ARGV[4])
  return 'cancelled'
end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[1], 'started_ms', ARGV[2], 'deliveries', ARGV[3],
           'stage', 'starting', 'step', '0', 'total', '0', 'repeat', '0', 'skip', '0', 'owner', ARGV[5])
redis.call('HDEL', KEYS[1], 'expires_ms')  -- taken: a job handed back later waits without a deadline
redis.call('PERSIST', KEYS[1])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('PUBLISH', KEYS[3], ARGV[4])
return 'running'
)lua";

const char* const kProgressScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {'fenced'} end
if #ARGV > 2 then redis.call('HSET', KEYS[1], unpack(ARGV, 3)) end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('PUBLISH', KEYS[2], ARGV[2])
return redis.call('HMGET', KEYS[1], 'cancel', 'skip', 'interrupt')
)lua";

const char* const kFinishScript = R"lua(
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 'fenced' end
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[5], '*', 'job', ARGV[2], 'spec', ARGV[6], 'stream', KEYS[4], 'deliveries', ARGV[7])
end
if #ARGV >= 8 then redis.call('HSET', KEYS[1], unpack(ARGV, 8)) end
if redis.call('HGET', KEYS[1], 'cancelled_by_id') == '1' and redis.call('HGET', KEYS[1], 'state') == 'succeeded' then
  -- cancelled by id (DELETE answered 200) after its last step: it is cancelled, as the client was told
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'error', 'cancelled', 'error_status', '409', 'images', '0')
end
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(redis.call('HGET', KEYS[1], 'ttl') or '3600'))
redis.call('XACK', KEYS[4], ARGV[4], ARGV[3])
redis.call('XDEL', KEYS[4], ARGV[3])
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 'ok'
)lua";

const char* const kHandBackScript = R"lua(
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 'fenced' end
redis.call('HSET', KEYS[1], 'state', 'queued', 'stage', '', 'step', '0', 'total', '0', 'repeat', '0', 'owner', '', 'preview', '')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('XCLAIM', KEYS[4], ARGV[4], ARGV[5], '0', ARGV[3], 'IDLE', ARGV[6], 'JUSTID')
redis.call('PUBLISH', KEYS[3], ARGV[2])
return 'queued'
)lua";

const char* const kExpireQueuedScript = R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return '' end
local deadline = tonumber(redis.call('HGET', KEYS[1], 'expires_ms') or '')
if state ~= 'queued' or not deadline or deadline > tonumber(ARGV[1]) then return state end
redis.call('HSET', KEYS[1], 'state', 'failed', 'error', redis.call('HGET', KEYS[1], 'expiry_error') or 'expired in the queue',
           'error_status', '503', 'finished_ms', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('EXPIRE', KEYS[1], tonumber(redis.call('HGET', KEYS[1], 'ttl') or '3600'))
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 'failed'
)lua";

const char* const kCancelScript = R"lua(
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return '' end
if state == 'queued' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'cancel', '1', 'error', 'cancelled', 'error_status', '409',
             'finished_ms', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'version', 1)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
  redis.call('PUBLISH', KEYS[3], ARGV[3])
  return 'cancelled'
end
if state == 'running' then redis.call('HSET', KEYS[1], 'cancel', '1', 'cancelled_by_id', '1') end
return state
)lua";

}  // namespace sdxl::server

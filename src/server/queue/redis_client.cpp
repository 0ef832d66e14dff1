#include "server/queue/redis_client.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <cctype>
#include <cstdlib>
#include <optional>

namespace sdxl::server {

RedisAddress parse_redis_url(const std::string& url) {
  const std::string scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) throw std::invalid_argument("expected redis://HOST:PORT[/STREAM], got '" + url + "'");
  std::string rest = url.substr(scheme.size());
  RedisAddress a;
  const size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    a.stream = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (a.stream.empty()) a.stream = "sdxl";
    for (char c : a.stream)
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' || c == '.'))
        throw std::invalid_argument("the stream name '" + a.stream + "' may hold only letters, digits and - _ : .");
  }
  const size_t at = rest.rfind('@');
  if (at != std::string::npos) {
    std::string credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = credentials.find(':');
    if (colon != std::string::npos) a.user = credentials.substr(0, colon);
    a.password = colon == std::string::npos ? credentials : credentials.substr(colon + 1);
  }
  std::optional<std::string> port;
  if (!rest.empty() && rest.front() == '[') {  // [v6 address][:PORT]
    const size_t close = rest.find(']');
    if (close == std::string::npos) throw std::invalid_argument("unclosed '[' in " + url);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') throw std::invalid_argument("expected :PORT after ']' in " + url);
      port = rest.substr(close + 2);
    }
    rest = rest.substr(1, close - 1);
  } else if (const size_t colon = rest.rfind(':'); colon != std::string::npos) {
    port = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  if (port) {
    char* end = nullptr;
    const long p = std::strtol(port->c_str(), &end, 10);
    if (port->empty() || *end != '\0' || p <= 0 || p > 65535) throw std::invalid_argument("bad port '" + *port + "' in " + url);
    a.port = static_cast<int>(p);
  }
  if (!rest.empty()) a.host = rest;
  return a;
}

const std::string* RedisReply::field(const std::string& name) const {
  for (size_t i = 0; i + 1 < items.size(); i += 2)
    if (items[i].text == name) return &items[i + 1].text;
  return nullptr;
}

namespace {

timeval to_timeval(std::chrono::milliseconds t) {
  return {static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
}

// Converts (and frees) a hiredis reply; an error reply is kept as `error`.
RedisReply convert(redisReply* r, std::string& error) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::Integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.kind = RedisReply::Kind::String;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      if (error.empty()) error.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::Array;
      out.items.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.items.push_back(convert(r->element[i], error));
      break;
    default: break;
  }
  return out;
}

}  // namespace

RedisConnection::RedisConnection(RedisAddress address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {}

RedisConnection::~RedisConnection() { drop(); }

void RedisConnection::drop() {
  if (context_) redisFree(context_);
  context_ = nullptr;
}

void RedisConnection::connect() {
  if (context_) return;
  const std::string where = address_.host + ":" + std::to_string(address_.port);
  context_ = redisConnectWithTimeout(address_.host.c_str(), address_.port, to_timeval(std::min(timeout_, std::chrono::milliseconds(2000))));
  if (!context_ || context_->err) {
    const std::string why = context_ ? context_->errstr : "out of memory";
    drop();
    throw RedisUnavailable("Redis at " + where + " is unreachable (" + why + ")");
  }
  redisSetTimeout(context_, to_timeval(timeout_));
  if (!address_.password.empty()) {
    if (address_.user.empty()) command({"AUTH", address_.password});
    else command({"AUTH", address_.user, address_.password});
  }
}

std::vector<RedisReply> RedisConnection::pipeline(const std::vector<std::vector<std::string>>& commands) {
  connect();
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data());
  }
  std::vector<RedisReply> replies;
  std::string error;
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) {
      const std::string why = context_->errstr;
      drop();
      throw RedisUnavailable("Redis at " + address_.host + ":" + std::to_string(address_.port) + " stopped answering (" +
                             why + ")");
    }
    replies.push_back(convert(static_cast<redisReply*>(raw), error));
    freeReplyObject(raw);
  }
  if (!error.empty()) throw RedisError("Redis: " + error);
  return replies;
}

RedisReply RedisConnection::command(const std::vector<std::string>& args) { return std::move(pipeline({args}).front()); }

RedisSubscription::RedisSubscription(const RedisAddress& address, const std::string& channel) {
  RedisConnection connection(address);  // connects and authenticates, then hands its context over
  connection.command({"SUBSCRIBE", channel});
  std::swap(context_, connection.context_);
}

RedisSubscription::~RedisSubscription() {
  if (context_) redisFree(context_);
}

std::optional<std::string> RedisSubscription::next(std::chrono::milliseconds timeout) {
  const auto lost = [&] { return RedisUnavailable(std::string("Redis subscription lost (") + context_->errstr + ")"); };
  void* raw = nullptr;
  // Replies already read into hiredis's buffer first; else wait for the socket, then read.
  if (redisReaderGetReply(context_->reader, &raw) != REDIS_OK) throw lost();
  if (!raw) {
    pollfd fd{context_->fd, POLLIN, 0};
    const int ready = poll(&fd, 1, static_cast<int>(timeout.count()));
    if (ready == 0) return std::nullopt;
    if (ready < 0 || redisBufferRead(context_) != REDIS_OK || redisReaderGetReply(context_->reader, &raw) != REDIS_OK) throw lost();
    if (!raw) return std::nullopt;  // part of a reply so far
  }
  std::string error;
  const RedisReply reply = convert(static_cast<redisReply*>(raw), error);
  freeReplyObject(raw);
  // ["message", channel, payload]
  if (reply.items.size() == 3 && reply.items[0].text == "message") return reply.items[2].text;
  return std::nullopt;
}

std::unique_ptr<RedisConnection> RedisPool::take() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<RedisConnection>(address_);
}

void RedisPool::give_back(std::unique_ptr<RedisConnection> c) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.size() < 16) idle_.push_back(std::move(c));
}

void RedisPool::forget_idle() {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.clear();
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace sdxl::server

// A small synchronous Redis client over hiredis: binary-safe commands, pipelines, replies as
// owned values, and a connection that reconnects by itself. Redis being unreachable is a
// RedisUnavailable (the front ends answer 503, the workers wait and retry); a command Redis
// refuses is a RedisError with its message.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

struct redisContext;

namespace sdxl::server {

// redis://[[USER]:PASSWORD@]HOST[:PORT][/STREAM]
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user, password;  // AUTH [USER] PASSWORD when a password is given
  std::string stream = "sdxl";  // the jobs stream; every other key starts with it
};
RedisAddress parse_redis_url(const std::string& url);  // std::invalid_argument saying what is wrong

struct RedisError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RedisUnavailable : RedisError {
  using RedisError::RedisError;
};

// One reply: nil, an integer, a string (bulk or status) or an array; errors are thrown instead.
struct RedisReply {
  enum class Kind { Nil, Integer, String, Array } kind = Kind::Nil;
  long long integer = 0;
  std::string text;
  std::vector<RedisReply> items;

  bool nil() const { return kind == Kind::Nil; }
  // The reply of HGETALL / XRANGE fields ([k1, v1, k2, v2, ...]) as the value of `field`.
  const std::string* field(const std::string& name) const;
};

class RedisConnection {
 public:
  explicit RedisConnection(RedisAddress address, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  RedisReply command(const std::vector<std::string>& args);
  // Sends every command, then reads every reply (one round trip); an error reply in any of them
  // is thrown after all replies are read.
  std::vector<RedisReply> pipeline(const std::vector<std::vector<std::string>>& commands);
  const RedisAddress& address() const { return address_; }

 private:
  friend class RedisSubscription;
  void connect();
  void drop();
  RedisAddress address_;
  std::chrono::milliseconds timeout_;
  redisContext* context_ = nullptr;
};

// A connection subscribed to one channel (SUBSCRIBE), read with a timeout.
class RedisSubscription {
 public:
  RedisSubscription(const RedisAddress& address, const std::string& channel);
  ~RedisSubscription();
  RedisSubscription(const RedisSubscription&) = delete;
  RedisSubscription& operator=(const RedisSubscription&) = delete;
  // The next message's payload; nothing when none came within `timeout`. RedisUnavailable when
  // the connection is lost (make a new subscription).
  std::optional<std::string> next(std::chrono::milliseconds timeout);

 private:
  redisContext* context_ = nullptr;
};

// Connections for many threads (HTTP handlers): each call borrows one, or makes one.
class RedisPool {
 public:
  explicit RedisPool(RedisAddress address) : address_(std::move(address)) {}
  template <typename Body>
  auto with(Body body) {
    std::unique_ptr<RedisConnection> c = take();
    try {
      auto result = body(*c);
      give_back(std::move(c));
      return result;
    } catch (const RedisUnavailable&) {
      forget_idle();  // Redis went away: the idle connections are dead too
      throw;
    }  // a connection that threw anything else is dropped too: it may be half-read
  }
  const RedisAddress& address() const { return address_; }

 private:
  std::unique_ptr<RedisConnection> take();
  void give_back(std::unique_ptr<RedisConnection> c);
  void forget_idle();
  RedisAddress address_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;
};

// Milliseconds since the epoch: the jobs' time stamps (submitted, started, finished).
int64_t now_ms();

}  // namespace sdxl::server

// A front end's ear on the queue: workers PUBLISH a job's id on STREAM:changes whenever its hash
// changes, and one thread per front end listens, so the front end's watch of waiting answers (a
// synchronous call, an event stream) wakes when a job changes instead of polling Redis. Messages
// lost while Redis is away only delay it to its next fallback check.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "server/queue/redis_client.h"

namespace sdxl::server {

class JobChangeListener {
 public:
  JobChangeListener(RedisAddress address, std::string channel);
  ~JobChangeListener();
  JobChangeListener(const JobChangeListener&) = delete;
  JobChangeListener& operator=(const JobChangeListener&) = delete;

  // A count of every change message heard: waits until it differs from `seen` or `timeout`
  // passes, and returns it.
  uint64_t wait_any(uint64_t seen, std::chrono::milliseconds timeout);

 private:
  void listen();
  const RedisAddress address_;
  const std::string channel_;
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t all_changes_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sdxl::server

// A front end's ear on the queue: workers PUBLISH a job's id on STREAM:changes whenever its hash
// changes, and one thread per front end listens, so a waiting request (a synchronous call, an
// event stream) wakes when its job changes instead of polling Redis. Messages lost while Redis is
// away only delay a waiter to its next fallback check.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "server/redis_client.h"

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

  // While a Watch lives, changes to job `id` are counted; wait() returns when the count passes
  // what the watcher has seen, or after `timeout`.
  class Watch {
   public:
    Watch(JobChangeListener& listener, std::string id);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    void wait(std::chrono::milliseconds timeout);

   private:
    JobChangeListener& listener_;
    const std::string id_;
    uint64_t seen_ = 0;
  };

 private:
  void listen();
  const RedisAddress address_;
  const std::string channel_;
  std::mutex mutex_;
  std::condition_variable changed_;
  struct Watched {
    int watchers = 0;
    uint64_t changes = 0;
  };
  std::map<std::string, Watched> watched_;
  uint64_t all_changes_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sdxl::server

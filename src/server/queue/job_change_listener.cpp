#include "server/queue/job_change_listener.h"

namespace sdxl::server {

JobChangeListener::JobChangeListener(RedisAddress address, std::string channel)
    : address_(std::move(address)), channel_(std::move(channel)) {
  thread_ = std::thread([this] { listen(); });
}

JobChangeListener::~JobChangeListener() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  thread_.join();
}

void JobChangeListener::listen() {
  const auto stopping = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
  };
  while (!stopping()) {
    try {
      RedisSubscription subscription(address_, channel_);
      while (!stopping()) {
        const std::optional<std::string> id = subscription.next(std::chrono::milliseconds(200));
        if (!id) continue;
        std::lock_guard<std::mutex> lock(mutex_);
        ++all_changes_;
        changed_.notify_all();
      }
    } catch (const RedisError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // Redis away: waiters fall back to polling
    }
  }
}

uint64_t JobChangeListener::wait_any(uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return all_changes_ != seen || stopping_; });
  return all_changes_;
}

}  // namespace sdxl::server

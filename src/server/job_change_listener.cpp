#include "server/job_change_listener.h"

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
        const auto it = watched_.find(*id);
        if (it != watched_.end()) ++it->second.changes;
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

JobChangeListener::Watch::Watch(JobChangeListener& listener, std::string id) : listener_(listener), id_(std::move(id)) {
  std::lock_guard<std::mutex> lock(listener_.mutex_);
  Watched& w = listener_.watched_[id_];
  ++w.watchers;
  seen_ = w.changes;
}

JobChangeListener::Watch::~Watch() {
  std::lock_guard<std::mutex> lock(listener_.mutex_);
  const auto it = listener_.watched_.find(id_);
  if (--it->second.watchers == 0) listener_.watched_.erase(it);
}

void JobChangeListener::Watch::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(listener_.mutex_);
  listener_.changed_.wait_for(lock, timeout, [&] { return listener_.watched_[id_].changes != seen_; });
  seen_ = listener_.watched_[id_].changes;
}

}  // namespace sdxl::server

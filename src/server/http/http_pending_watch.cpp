#include "server/http/http_pending_watch.h"

#include <vector>

namespace sdxl::server::http {

PendingWatch::PendingWatch(ChangeWait wait_for_change) : wait_for_change_(std::move(wait_for_change)) {
  thread_ = std::thread([this] { follow(); });
}

PendingWatch::~PendingWatch() { stop(); }

void PendingWatch::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  added_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PendingWatch::add(std::shared_ptr<Pending> pending, Deliver deliver) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.emplace(std::move(pending), std::move(deliver));
    ++added_count_;
  }
  added_.notify_all();
}

void PendingWatch::remove(const std::shared_ptr<Pending>& pending) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.erase(pending);
}

size_t PendingWatch::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.size();
}

void PendingWatch::follow() {
  uint64_t seen = 0;
  uint64_t looked_at = 0;  // added_count_ when the list was last copied
  bool fresh = false;      // one was added while the watch slept: look before sleeping again
  for (;;) {
    std::vector<std::pair<std::shared_ptr<Pending>, Deliver>> now;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      added_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (stopping_) return;
      now.assign(pending_.begin(), pending_.end());
      looked_at = added_count_;
    }
    if (!fresh) seen = wait_for_change_(seen, std::chrono::milliseconds(250));
    fresh = false;
    for (auto& [pending, deliver] : now) {
      std::string event;
      Pending::Poll poll = Pending::Poll::Waiting;
      try {
        poll = pending->poll(event);
      } catch (const std::exception&) {
        poll = Pending::Poll::Done;  // complete() reports what went wrong
      }
      if (poll == Pending::Poll::Waiting) continue;
      const bool done = poll == Pending::Poll::Done;
      if (done) remove(pending);
      deliver(done, std::move(event));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    fresh = added_count_ != looked_at;
  }
}

}  // namespace sdxl::server::http

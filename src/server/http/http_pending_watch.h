// The one thread that follows every waiting response (http::Pending): it sleeps until some job
// changes (or a quarter of a second passes), then asks each pending response whether it has
// news, and hands events and completions to their connections.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "server/http/http_message.h"

namespace sdxl::server::http {

class PendingWatch {
 public:
  using ChangeWait = std::function<uint64_t(uint64_t seen, std::chrono::milliseconds timeout)>;
  // (done, event): an event to send (may be empty) and whether the response is complete.
  using Deliver = std::function<void(bool done, std::string event)>;

  explicit PendingWatch(ChangeWait wait_for_change);
  ~PendingWatch();
  PendingWatch(const PendingWatch&) = delete;
  PendingWatch& operator=(const PendingWatch&) = delete;

  void add(std::shared_ptr<Pending> pending, Deliver deliver);
  void remove(const std::shared_ptr<Pending>& pending);
  size_t size() const;
  void stop();

 private:
  void follow();

  ChangeWait wait_for_change_;
  mutable std::mutex mutex_;
  std::condition_variable added_;
  std::map<std::shared_ptr<Pending>, Deliver> pending_;
  uint64_t added_count_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sdxl::server::http

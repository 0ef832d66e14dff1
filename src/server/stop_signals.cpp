#include "server/stop_signals.h"

#include <pthread.h>

#include <csignal>

namespace sdxl::server {

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

void StopSignals::close() {
  if (!waiter_.joinable()) return;
  closing_ = true;
  pthread_kill(waiter_.native_handle(), SIGTERM);  // wakes the sigwait
  waiter_.join();
}

void StopSignals::on_stop(std::function<void(int count)> handler) {
  waiter_ = std::thread([this, handler = std::move(handler)] {
    for (int count = 1;; ++count) {
      int received = 0;
      sigwait(&signals_, &received);
      if (closing_) return;
      handler(count);
    }
  });
}

}  // namespace sdxl::server

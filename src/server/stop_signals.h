// SIGINT / SIGTERM end a long-running command (`sdxl serve`, `sdxl worker`) through a thread of
// their own: blocked in every thread, so none is interrupted mid-call, and waited for by one that
// hands them to a handler. SIGPIPE is ignored (a client that hangs up is a failed write, not the
// end of the process).
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace sdxl::server {

class StopSignals {
 public:
  // Blocks the signals: make it before any other thread starts (threads inherit the mask).
  StopSignals();
  ~StopSignals() { close(); }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Starts waiting; `handler` runs on the waiting thread at every signal with the count so far
  // (1: begin a graceful stop; 2: stop at once). A signal sent before now is pending and handled
  // at once.
  void on_stop(std::function<void(int count)> handler);
  // Stops waiting, without calling the handler, when no signal came; then joins. After it, the
  // handler's objects may go.
  void close();

 private:
  sigset_t signals_;
  std::atomic<bool> closing_{false};
  std::thread waiter_;
};

}  // namespace sdxl::server

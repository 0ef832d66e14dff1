#include "server/service/graceful_stop.h"

#include <chrono>
#include <cstdlib>

#include "server/service/service_log.h"

namespace sdxl::server {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until `done()` or `deadline`, looking ten times a second.
template <typename Done>
bool wait_until(Clock::time_point deadline, Done done) {
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

}  // namespace

GracefulStop::GracefulStop(JobBackend& jobs, http::Listener& listener, double drain_timeout_s)
    : jobs_(jobs), listener_(listener), timeout_s_(drain_timeout_s) {}

GracefulStop::~GracefulStop() {
  if (drainer_.joinable()) drainer_.join();
}

void GracefulStop::signalled(int count) {
  if (count > 1) {
    service_log(SDXL_LOG_LEVEL_WARN, "shutdown", {{"signals", count}}, "a second stop signal: exiting now");
    std::_Exit(1);
  }
  jobs_.close_intake();  // before this returns: no job is accepted after the signal
  drainer_ = std::thread([this] { drain(); });
}

void GracefulStop::drain() {
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::milliseconds(static_cast<long long>(timeout_s_ * 1000));
  service_log(SDXL_LOG_LEVEL_INFO, "draining", {{"drain_timeout_seconds", timeout_s_}, {"requests_in_flight", listener_.requests_in_flight()}},
              "stop signal: new jobs refused; the queued and running ones finish");
  const auto idle = [this] { return !jobs_.busy() && listener_.requests_in_flight() == 0; };
  bool drained = wait_until(deadline, idle);
  if (!drained) {
    service_log(SDXL_LOG_LEVEL_WARN, "draining", {{"requests_in_flight", listener_.requests_in_flight()}},
                "the drain timeout passed: cancelling what is left");
    jobs_.cancel_all();
    // The cancelled jobs' clients get their answers (a cancelled job's status) before the end.
    drained = wait_until(Clock::now() + std::chrono::seconds(5), idle);
  }
  service_log(SDXL_LOG_LEVEL_INFO, "stopped",
              {{"seconds", std::chrono::duration<double>(Clock::now() - started).count()}, {"drained", drained}});
  listener_.stop();
}

}  // namespace sdxl::server

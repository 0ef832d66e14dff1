// What `sdxl serve` does on SIGTERM (or SIGINT): stop taking jobs at once (new ones are answered
// 503 and GET /ready says so, so a load balancer sends them elsewhere), let the queued and running
// jobs finish and their clients get their answers within the drain timeout, cancel whatever is
// left then (its clients answered), and stop serving. A second signal ends the process at once.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/http/http_listener.h"
#include "server/jobs/job_backend.h"

namespace sdxl::server {

class GracefulStop {
 public:
  GracefulStop(JobBackend& jobs, http::Listener& listener, double drain_timeout_s);
  ~GracefulStop();
  GracefulStop(const GracefulStop&) = delete;
  GracefulStop& operator=(const GracefulStop&) = delete;

  // The `count`-th stop signal (from the signal thread; returns at once).
  void signalled(int count);

 private:
  void drain();

  JobBackend& jobs_;
  http::Listener& listener_;
  const double timeout_s_;
  std::thread drainer_;
};

}  // namespace sdxl::server

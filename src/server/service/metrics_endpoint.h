// A process's own small HTTP endpoint for its operator: GET /metrics, /health and /ready, on a
// thread of its own (`sdxl worker --metrics-listen`: a worker serves no other HTTP). Unauthenticated:
// bind it to an address only the monitoring can reach.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "server/http/http_listener.h"
#include "server/service/metrics_registry.h"

namespace sdxl::server {

class MetricsEndpoint {
 public:
  using Scrape = std::function<void(metrics::Exposition& out)>;
  using NotReadyReason = std::function<std::string()>;  // "" when ready
  // Listens at once (printing "sdxl: metrics on http://HOST:PORT"); throws std::runtime_error when
  // `host:port` cannot be listened on.
  MetricsEndpoint(const std::string& host, int port, Scrape scrape, NotReadyReason not_ready);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

 private:
  std::unique_ptr<http::Listener> listener_;
  std::thread thread_;
};

}  // namespace sdxl::server

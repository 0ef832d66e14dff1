#include "server/service/metrics_endpoint.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace sdxl::server {
namespace {

void send(http::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

}  // namespace

MetricsEndpoint::MetricsEndpoint(const std::string& host, int port, Scrape scrape, NotReadyReason not_ready) {
  http::Limits limits;
  limits.max_connections = 16;
  limits.max_body_bytes = 1 << 16;
  limits.handler_threads = 1;
  listener_ = std::make_unique<http::Listener>(
      limits,
      [](uint64_t seen, std::chrono::milliseconds timeout) {  // nothing here waits for jobs
        std::this_thread::sleep_for(timeout);
        return seen;
      },
      [](int status, const std::string& message, const std::string&, http::Response& res) {
        send(res, status, {{"error", status}, {"detail", message}});
      });
  listener_->route("GET", "/metrics", [scrape](const http::Request&, http::Response& res) {
    metrics::Exposition out;
    scrape(out);
    res.set_content(out.text(), "text/plain; version=0.0.4; charset=utf-8");
  });
  listener_->route("GET", "/health", [](const http::Request&, http::Response& res) { send(res, 200, {{"status", "ok"}}); });
  listener_->route("GET", "/ready", [not_ready](const http::Request&, http::Response& res) {
    const std::string reason = not_ready();
    if (reason.empty()) return send(res, 200, {{"status", "ready"}});
    send(res, 503, {{"status", "not ready"}, {"reason", reason}});
  });
  const int bound = listener_->bind(host, port);
  if (bound < 0) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + " for metrics");
  std::printf("sdxl: metrics on http://%s:%d\n", host.c_str(), bound);
  std::fflush(stdout);
  thread_ = std::thread([this] { listener_->run(); });
}

MetricsEndpoint::~MetricsEndpoint() {
  listener_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sdxl::server

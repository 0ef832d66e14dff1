// The operator's routes: GET /metrics (Prometheus text format 0.0.4), GET /health (the process
// answers) and GET /ready (a job could start now). The probes need no credentials (the gate lets
// them through); /metrics does unless --metrics-public. docs/OPERATIONS.md describes them.
#include <nlohmann/json.hpp>

#include "sdxl/sdxl.h"
#include "server/http/routes.h"
#include "server/service/service_metrics.h"

namespace sdxl::server {
namespace {

// The engine's own estimate of the weights it holds (base and refiner), from its capacity.
double engine_weights_bytes(const ModelCatalog& catalog) {
  return catalog.with_engine([](sdxl_engine* engine) -> double {
    char* text = nullptr;
    if (!engine || sdxl_engine_capacity(engine, &text) != SDXL_STATUS_OK) return 0.0;
    const auto capacity = nlohmann::json::parse(text, nullptr, false);
    sdxl_free_string(text);
    double gib = 0;
    for (const char* model : {"base", "refiner"})
      if (capacity.contains(model))
        for (const char* part : {"text_encoders_gib", "unet_gib", "vae_gib"}) gib += capacity[model].value(part, 0.0);
    return gib * double(1 << 30);
  });
}

std::string scrape(const ServerContext& ctx) {
  metrics::Exposition out;
  write_process_gauges(out, ctx.options.precision);
  const std::string not_ready = ctx.queue.not_ready_reason();
  out.gauge("sdxl_ready", "1 when a job could start now (what GET /ready answers)", not_ready.empty() ? 1 : 0);
  out.gauge("sdxl_draining", "1 once a shutdown has begun (new jobs refused, the running ones finishing)",
            ctx.queue.intake_closed() ? 1 : 0);
  if (ctx.options.queue_url.empty()) {
    out.gauge("sdxl_models_loaded", "Checkpoints loaded in memory", static_cast<double>(ctx.catalog.loaded().size()));
    out.gauge("sdxl_engine_weights_bytes", "The engine's estimate of the weights it holds (the default checkpoint)",
              engine_weights_bytes(ctx.catalog));
  }
  ctx.queue.write_metrics(out);
  service_metrics().write(out);
  return out.text();
}

}  // namespace

void add_service_routes(Router& server, const ServerContext& ctx) {
  server.Get("/metrics", guarded([&ctx](const http::Request&, http::Response& res) {
    res.set_content(scrape(ctx), "text/plain; version=0.0.4; charset=utf-8");
  }));
  server.Get("/health", guarded([](const http::Request&, http::Response& res) { send_json(res, 200, {{"status", "ok"}}); }));
  server.Get("/ready", guarded([&ctx](const http::Request&, http::Response& res) {
    const std::string reason = ctx.queue.not_ready_reason();
    if (reason.empty()) return send_json(res, 200, {{"status", "ready"}});
    res.set_header("Retry-After", "5");
    send_json(res, 503, {{"status", "not ready"}, {"reason", reason}});
  }));
}

bool is_probe_path(const std::string& path) { return path == "/health" || path == "/ready"; }

}  // namespace sdxl::server

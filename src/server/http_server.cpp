#include "server/http_server.h"

#include <strings.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <regex>

#include "server/http/base64.h"
#include "server/http/http_common.h"
#include "server/http/http_listener.h"
#include "server/queue/redis_job_backend.h"
#include "server/http/request_guard.h"
#include "server/http/signed_links.h"
#include "server/http/routes.h"
#include "server/service/graceful_stop.h"
#include "server/service/service_log.h"
#include "server/service/service_metrics.h"
#include "server/stop_signals.h"

namespace sdxl::server {
namespace {

// "Scheme credentials": the scheme is matched in any case (RFC 7235).
bool has_scheme(const std::string& header, const char* scheme, std::string& credentials) {
  const size_t n = std::strlen(scheme);
  if (header.size() <= n || strncasecmp(header.c_str(), scheme, n) != 0 || header[n] != ' ') return false;
  credentials = header.substr(header.find_first_not_of(' ', n) == std::string::npos ? header.size() : header.find_first_not_of(' ', n));
  return true;
}

// A GET of one result image with a valid, unexpired signature (an OpenAI `url` link).
bool signed_link(const LinkSigner& links, const http::Request& req) {
  static const std::regex image(R"(/v1/jobs/[0-9a-f]+/images/[0-9]{1,9})");
  if (req.method != "GET" || !std::regex_match(req.path, image)) return false;
  return links.valid(req.path, req.get_param_value("expires"), req.get_param_value("sig"), unix_now());
}

bool authorized(const ServerOptions& o, const LinkSigner& links, const http::Request& req) {
  if (o.api_auth.empty() && o.api_key.empty()) return true;
  if (signed_link(links, req)) return true;
  const std::string header = req.get_header_value("Authorization");
  std::string credentials;
  if (!o.api_key.empty() && has_scheme(header, "Bearer", credentials)) return same_secret(credentials, o.api_key);
  if (!o.api_auth.empty() && has_scheme(header, "Basic", credentials)) {
    const auto decoded = base64_decode(credentials);
    if (!decoded) return false;
    bool ok = false;
    for (const auto& [user, password] : o.api_auth) ok = same_secret(*decoded, user + ":" + password) || ok;  // every entry compared
    return ok;
  }
  return false;
}

// Before a request's body is read: CORS preflight, the Host and Origin checks, authentication.
bool answered_early(const ServerOptions& options, const RequestGuard& guard, const LinkSigner& links, const http::Request& req,
                    http::Response& res) {
  if (!options.cors_origin.empty()) {
    res.set_header("Access-Control-Allow-Origin", options.cors_origin);
    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    res.set_header("Vary", "Origin");
    if (req.method == "OPTIONS") {
      res.status = 204;
      return true;
    }
  }
  if (const auto refusal = guard.refusal(req)) {
    send_error_for(req.path, res, *refusal);
    return true;
  }
  if (is_probe_path(req.path) || (options.metrics_public && req.path == "/metrics")) return false;
  if (authorized(options, links, req)) return false;
  res.set_header("WWW-Authenticate", "Basic realm=\"sdxl\"");
  send_error_for(req.path, res, RequestError(401, "", "authentication required (--api-auth user:password as HTTP Basic, or --api-key as a Bearer token)"));
  return true;
}

// Every answered request: counted, timed and logged (the probes and scrapes at debug level:
// they come every few seconds).
void request_completed(const http::Request& req, int status, double seconds) {
  const std::string family = route_family(req.path);
  service_metrics().http_requests.add({family, std::to_string(status)});
  service_metrics().http_seconds.observe(seconds, {family});
  const sdxl_log_level level = family == "service" ? SDXL_LOG_LEVEL_DEBUG : status >= 500 ? SDXL_LOG_LEVEL_WARN : SDXL_LOG_LEVEL_INFO;
  service_log(level, "request",
              {{"request_id", req.id}, {"method", req.method}, {"route", req.path}, {"status", status},
               {"seconds", std::round(seconds * 1000) / 1000}, {"client", req.remote_addr}});
}

}  // namespace

int run_server(const ServerOptions& options) {
  StopSignals stop_signals;

  if (options.host != "127.0.0.1" && options.host != "localhost" && options.host != "::1" && options.api_auth.empty() &&
      options.api_key.empty())
    service_log(SDXL_LOG_LEVEL_WARN, "insecure", {{"host", options.host}},
                "listening without --api-auth or --api-key: anyone who can reach this machine can use it");
  ModelCatalog catalog(options);
  std::unique_ptr<JobBackend> queue;
  if (options.queue_url.empty())
    queue = std::make_unique<JobQueue>(catalog, options.queue_size, options.kept_results);
  else
    queue = std::make_unique<RedisJobBackend>(parse_redis_url(options.queue_url),
                                              RedisQueueOptions{options.queue_size, options.result_ttl_s, options.queued_ttl_s, options.lora_dir,
                                                                                options.controlnet_dir, options.image_encoder_dir, options.upscaler_dir});
  const LinkSigner links(options.link_secret);
  const ServerContext ctx{options, catalog, *queue, links};

  http::Limits limits;
  limits.max_body_bytes = options.max_body_bytes;
  limits.max_connections = options.max_connections;
  http::Listener server(
      limits, [&queue](uint64_t seen, std::chrono::milliseconds timeout) { return queue->wait_any_change(seen, timeout); },
      [](int status, const std::string& message, const std::string& path, http::Response& res) {
        send_error_for(path, res, RequestError(status, "", message));
      });
  const RequestGuard guard(options);
  server.set_gate([&options, &guard, &links](const http::Request& req, http::Response& res) {
    return answered_early(options, guard, links, req, res);
  });
  server.set_completion(request_completed);
  Router router(server);
  add_web_page(router, ctx);
  add_a1111_routes(router, ctx);
  add_a1111_extras_routes(router, ctx);
  add_controlnet_routes(router, ctx);
  add_openai_routes(router, ctx);
  add_jobs_routes(router, ctx);
  add_service_routes(router, ctx);

  const int port = server.bind(options.host, options.port);
  if (port < 0) {
    service_log(SDXL_LOG_LEVEL_ERROR, "listen", {{"host", options.host}, {"port", options.port}},
                "cannot listen there (in use, or not an address of this machine)");
    return 1;
  }
  GracefulStop graceful(*queue, server, options.drain_timeout_s);
  stop_signals.on_stop([&graceful](int count) { graceful.signalled(count); });
  std::printf("sdxl: listening on http://%s:%d\n", options.host.c_str(), port);
  std::fflush(stdout);
  server.run();  // returns after stop()
  stop_signals.close();  // before `server` goes: the handler may not run after
  return 0;  // `graceful` joins its drain (done: it stopped the server) before the rest goes
}

}  // namespace sdxl::server

#include "server/http_server.h"

#include <cstdio>
#include <memory>

#include "server/base64.h"
#include "server/http_common.h"
#include "server/redis_job_backend.h"
#include "server/routes.h"
#include "server/stop_signals.h"

namespace sdxl::server {
namespace {

bool authorized(const ServerOptions& o, const httplib::Request& req) {
  if (o.api_auth.empty() && o.api_key.empty()) return true;
  const std::string header = req.get_header_value("Authorization");
  if (!o.api_key.empty() && header.rfind("Bearer ", 0) == 0) return same_secret(header.substr(7), o.api_key);
  if (!o.api_auth.empty() && header.rfind("Basic ", 0) == 0) {
    const auto decoded = base64_decode(header.substr(6));
    if (!decoded) return false;
    bool ok = false;
    for (const auto& [user, password] : o.api_auth) ok = same_secret(*decoded, user + ":" + password) || ok;  // every entry compared
    return ok;
  }
  return false;
}

}  // namespace

bool same_secret(const std::string& a, const std::string& b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

int run_server(const ServerOptions& options) {
  StopSignals stop_signals;

  if (options.host != "127.0.0.1" && options.host != "localhost" && options.host != "::1" && options.api_auth.empty() &&
      options.api_key.empty())
    std::fprintf(stderr, "sdxl: warning: listening on %s without --api-auth or --api-key: anyone who can reach this "
                         "machine can use it\n", options.host.c_str());
  ModelCatalog catalog(options);
  std::unique_ptr<JobBackend> queue;
  if (options.queue_url.empty())
    queue = std::make_unique<JobQueue>(catalog, options.queue_size, options.kept_results);
  else
    queue = std::make_unique<RedisJobBackend>(parse_redis_url(options.queue_url),
                                              RedisQueueOptions{options.queue_size, options.result_ttl_s, options.lora_dir});
  const ServerContext ctx{options, catalog, *queue};

  httplib::Server server;
  server.set_payload_max_length(options.max_body_bytes);
  server.set_read_timeout(60, 0);
  server.set_pre_routing_handler([&options](const httplib::Request& req, httplib::Response& res) {
    if (!options.cors_origin.empty()) {
      res.set_header("Access-Control-Allow-Origin", options.cors_origin);
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
      if (req.method == "OPTIONS") {
        res.status = 204;
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (authorized(options, req)) return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Basic realm=\"sdxl\"");
    send_error(res, RequestError(401, "", "authentication required (--api-auth user:password as HTTP Basic, or --api-key as a Bearer token)"));
    return httplib::Server::HandlerResponse::Handled;
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const int status = res.status;
    send_error(res, RequestError(status, "", status == 413 ? "the request body is larger than the limit (--max-body-mb)"
                                             : status == 404 ? "no such route"
                                                             : reason_phrase(status)));
  });
  add_web_page(server, ctx);
  add_a1111_routes(server, ctx);
  add_openai_routes(server, ctx);
  add_jobs_routes(server, ctx);

  const int port = options.port == 0 ? server.bind_to_any_port(options.host) : (server.bind_to_port(options.host, options.port) ? options.port : -1);
  if (port < 0) {
    std::fprintf(stderr, "sdxl: error: cannot listen on %s:%d (in use, or not an address of this machine)\n", options.host.c_str(),
                 options.port);
    return 1;
  }
  stop_signals.on_stop([&server] { server.stop(); });
  std::printf("sdxl: listening on http://%s:%d\n", options.host.c_str(), port);
  std::fflush(stdout);
  server.listen_after_bind();  // returns after stop()
  stop_signals.close();        // before `server` goes: the handler may not run after
  return 0;
}

}  // namespace sdxl::server

// Each API family registers its routes on the server.
#pragma once

#include "server/http/http_common.h"
#include "server/http/http_listener.h"

namespace sdxl::server {

// Where the API families register their routes (method, path pattern, handler).
class Router {
 public:
  explicit Router(http::Listener& listener) : listener_(listener) {}
  void Get(const std::string& pattern, http::Handler h) { listener_.route("GET", pattern, std::move(h)); }
  void Post(const std::string& pattern, http::Handler h) { listener_.route("POST", pattern, std::move(h)); }
  void Delete(const std::string& pattern, http::Handler h) { listener_.route("DELETE", pattern, std::move(h)); }

 private:
  http::Listener& listener_;
};

void add_a1111_routes(Router& server, const ServerContext& ctx);
void add_a1111_extras_routes(Router& server, const ServerContext& ctx);  // /sdapi/v1/extra-*, upscalers
void add_controlnet_routes(Router& server, const ServerContext& ctx);  // the ControlNet extension's /controlnet/...
void add_openai_routes(Router& server, const ServerContext& ctx);
void add_jobs_routes(Router& server, const ServerContext& ctx);
void add_web_page(Router& server, const ServerContext& ctx);
void add_service_routes(Router& server, const ServerContext& ctx);  // /metrics, /health, /ready
// The probes (/health, /ready): answered without credentials.
bool is_probe_path(const std::string& path);

// OpenAI's routes (/v1/images/..., /v1/models..., and any other /v1 path but the jobs API's)
// answer errors in OpenAI's shape, {"error": {message, type, param, code}}, with 400 for an
// invalid request; the others in the server's own ({detail, error, field}).
bool is_openai_path(const std::string& path);
void send_openai_error(http::Response& res, const RequestError& e);
void send_error_for(const std::string& path, http::Response& res, const RequestError& e);

}  // namespace sdxl::server

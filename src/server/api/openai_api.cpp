// The OpenAI Images API: POST /v1/images/generations (model, prompt, n, size, response_format
// b64_json or url; a url is a link to this server's result route), POST /v1/images/edits (the
// same with an image and a mask, multipart) and GET /v1/models. Errors in
// OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
#include <chrono>

#include "server/http/base64.h"
#include "server/http/http_common.h"
#include "server/api/openai_stream.h"
#include "server/api/request_parsers.h"
#include "server/http/routes.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

// Queues `job` and answers when it is done: {created, data: [{b64_json} or {url}]}, or as a
// stream of events (stream: true).
void answer_images(const ServerContext& ctx, const http::Request& req, http::Response& res, JobRequest job,
                   const OpenAiAnswer& answer, bool edit) {
  const std::string output_format = job.output.format;
  job.request_id = req.id;
  const std::string id = ctx.queue.submit(std::move(job));
  if (answer.stream) return res.defer(openai_image_stream(ctx, id, answer, output_format, edit));
  const std::string format = answer.format;
  // Links start with --public-url behind a proxy, else with the address the client used.
  std::string base = ctx.options.public_url.empty() ? "http://" + req.get_header_value("Host") : ctx.options.public_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  answer_when_done(ctx, id, res, [&ctx, format, base](const JobView& job, http::Response& res) {
    if (job.state != JobState::Succeeded) throw job_error(job);
    json data = json::array();
    for (size_t i = 0; i < job.images.size(); ++i) {
      if (format == "b64_json") data.push_back({{"b64_json", base64_encode(job.images[i].bytes)}});
      else {
        // Signed and expiring in an hour (as OpenAI's links): it works in an <img>, without the key.
        const std::string path = "/v1/jobs/" + job.id + "/images/" + std::to_string(i);
        data.push_back({{"url", base + path + ctx.links.query_for(path)}});
      }
    }
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    send_json(res, 200, {{"created", now}, {"data", data}});
  }, send_openai_error);
}

void generations(const ServerContext& ctx, const http::Request& req, http::Response& res) {
  OpenAiAnswer answer;
  JobRequest job = parse_openai_request(parse_body(req.body), lookup_of(ctx), answer);
  answer_images(ctx, req, res, std::move(job), answer, false);
}

void edits(const ServerContext& ctx, const http::Request& req, http::Response& res) {
  OpenAiAnswer answer;
  JobRequest job = parse_openai_edit(req.body, req.get_header_value("Content-Type"), lookup_of(ctx), answer);
  answer_images(ctx, req, res, std::move(job), answer, true);
}

}  // namespace

bool is_openai_path(const std::string& path) { return path.rfind("/v1/", 0) == 0 && path.rfind("/v1/jobs", 0) != 0; }

// OpenAI answers every invalid request 400 (never 422); its codes name the kind of failure.
void send_openai_error(http::Response& res, const RequestError& e) {
  res.status = e.status() == 422 ? 400 : e.status();
  if (e.status() == 503) res.set_header("Retry-After", "5");
  const char* type = e.status() == 401 ? "authentication_error" : e.status() >= 500 ? "server_error" : "invalid_request_error";
  const json code = e.status() == 401   ? json("invalid_api_key")
                    : e.status() == 404 ? json(e.field() == "model" ? "model_not_found" : "not_found")
                    : e.status() == 413 ? json("request_too_large")
                                        : json(nullptr);
  res.set_content(json{{"error", {{"message", e.what()}, {"type", type}, {"param", e.field().empty() ? json(nullptr) : json(e.field())}, {"code", code}}}}.dump(),
                  "application/json");
}

void send_error_for(const std::string& path, http::Response& res, const RequestError& e) {
  if (is_openai_path(path)) send_openai_error(res, e);
  else send_error(res, e);
}

void add_openai_routes(Router& server, const ServerContext& ctx) {
  server.Post("/v1/images/generations",
              guarded([&ctx](const http::Request& req, http::Response& res) { generations(ctx, req, res); },
                      send_openai_error, openai_field_of));
  server.Post("/v1/images/edits",
              guarded([&ctx](const http::Request& req, http::Response& res) { edits(ctx, req, res); }, send_openai_error,
                      openai_field_of));
  server.Get("/v1/models", guarded([&ctx](const http::Request&, http::Response& res) {
    json data = json::array();
    for (const auto& c : ctx.catalog.checkpoints())
      data.push_back({{"id", c.name}, {"object", "model"}, {"created", 0}, {"owned_by", "sdxl"}});
    send_json(res, 200, {{"object", "list"}, {"data", data}});
  }, send_openai_error));
  server.Get(R"(/v1/models/([^/]+))", guarded([&ctx](const http::Request& req, http::Response& res) {
    const std::string id = req.matches[1];
    const auto checkpoint = ctx.catalog.find_checkpoint(id);
    if (!checkpoint) throw RequestError(404, "model", "The model '" + id + "' does not exist");
    send_json(res, 200, {{"id", checkpoint->name}, {"object", "model"}, {"created", 0}, {"owned_by", "sdxl"}});
  }, send_openai_error));
}

}  // namespace sdxl::server

// The OpenAI Images API: POST /v1/images/generations (model, prompt, n, size, response_format
// b64_json or url; a url is a link to this server's result route) and GET /v1/models. Errors in
// OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
#include <chrono>

#include "server/base64.h"
#include "server/http_common.h"
#include "server/routes.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

void send_openai_error(httplib::Response& res, const RequestError& e) {
  res.status = e.status();
  if (e.status() == 503) res.set_header("Retry-After", "5");
  const char* type = e.status() == 401 ? "authentication_error" : e.status() >= 500 ? "server_error" : "invalid_request_error";
  res.set_content(json{{"error", {{"message", e.what()}, {"type", type}, {"param", e.field().empty() ? json(nullptr) : json(e.field())}, {"code", nullptr}}}}.dump(),
                  "application/json");
}

template <typename Body>
httplib::Server::Handler openai_guarded(Body body) {
  return [body](const httplib::Request& req, httplib::Response& res) {
    try {
      body(req, res);
    } catch (const RequestError& e) {
      send_openai_error(res, e);
    } catch (const std::exception& e) {
      send_openai_error(res, RequestError(500, "", e.what()));
    }
  };
}

void generations(const ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const json body = parse_body(req.body);
  const Fields f(body);
  GenerationSpec s;
  s.prompts = {f.text("prompt", "")};
  if (s.prompts[0].empty()) f.bad("prompt", "is required", 400);
  s.images_per_prompt = static_cast<int>(f.integer("n", 1, 1, 10));
  const std::string size = f.text("size", "1024x1024");
  if (size != "auto") {
    int w = 0, h = 0;
    char x = 0, extra = 0;
    if (std::sscanf(size.c_str(), "%d%c%d%c", &w, &x, &h, &extra) != 3 || x != 'x' || w < SDXL_MIN_SIDE || h < SDXL_MIN_SIDE ||
        w > SDXL_MAX_SIDE || h > SDXL_MAX_SIDE || w % 8 || h % 8)
      f.bad("size", "'" + size + "' is not WIDTHxHEIGHT with sides multiples of 8 between " + std::to_string(SDXL_MIN_SIDE) +
                        " and " + std::to_string(SDXL_MAX_SIDE), 400);
    s.width = w;
    s.height = h;
  }
  const std::string format = f.text("response_format", "b64_json");
  if (format != "b64_json" && format != "url") f.bad("response_format", "must be b64_json or url", 400);
  const std::string model = f.text("model", "");
  if (!model.empty() && model != "sdxl" && !ctx.catalog.find_checkpoint(model))
    throw RequestError(404, "model", "model: no model named '" + model + "' (GET /v1/models lists them)");
  if (model != "sdxl") s.checkpoint = model;
  s.seed = random_seed();
  const std::string id = ctx.queue.submit(std::move(s));
  const JobView job = wait_for(ctx, id, req);
  if (job.state != JobState::Succeeded) throw job_error(job);
  json data = json::array();
  const std::string host = req.get_header_value("Host");
  for (size_t i = 0; i < job.images.size(); ++i) {
    if (format == "b64_json") data.push_back({{"b64_json", base64_encode(job.images[i].png)}});
    else data.push_back({{"url", "http://" + host + "/v1/jobs/" + id + "/images/" + std::to_string(i)}});
  }
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  send_json(res, 200, {{"created", now}, {"data", data}});
}

}  // namespace

void add_openai_routes(httplib::Server& server, const ServerContext& ctx) {
  server.Post("/v1/images/generations",
              openai_guarded([&ctx](const httplib::Request& req, httplib::Response& res) { generations(ctx, req, res); }));
  server.Get("/v1/models", openai_guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    for (const auto& c : ctx.catalog.checkpoints())
      data.push_back({{"id", c.name}, {"object", "model"}, {"created", 0}, {"owned_by", "sdxl"}});
    send_json(res, 200, {{"object", "list"}, {"data", data}});
  }));
}

}  // namespace sdxl::server

#include "server/http_common.h"

#include "server/connection_watch.h"
#include "server/request_parsers.h"

namespace sdxl::server {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 499: return "Client Closed Request";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return status >= 500 ? "Internal Server Error" : "Bad Request";
  }
}

void send_error(httplib::Response& res, const RequestError& e) {
  nlohmann::json body = {{"error", reason_phrase(e.status())}, {"detail", e.what()}};
  if (!e.field().empty()) body["field"] = e.field();
  if (e.status() == 503) res.set_header("Retry-After", "5");
  send_json(res, e.status(), body);
}

NameLookup lookup_of(const ServerContext& ctx) {
  NameLookup names;
  names.has_checkpoint = [&ctx](const std::string& name) { return ctx.queue.has_checkpoint(name); };
  names.lora = [&ctx](const std::string& name) -> std::optional<std::string> {
    const auto entry = ctx.catalog.find_lora(name);
    if (!entry) return std::nullopt;
    return entry->path.string();
  };
  names.refiner = ctx.options.refiner;
  return names;
}

JobView wait_for(const ServerContext& ctx, const std::string& id, const httplib::Request& req) {
  uint64_t version = 0;
  for (;;) {
    const auto view = ctx.queue.wait(id, version, std::chrono::milliseconds(500));
    if (!view) throw RequestError(500, "", "the job was dropped");
    if (view->done()) return *view;
    version = view->version;
    if (peer_has_closed(req.local_port, req.remote_addr, req.remote_port)) {
      ctx.queue.cancel(id);
      throw RequestError(499, "", "the client went away; its job was cancelled");
    }
  }
}

RequestError job_error(const JobView& job) {
  if (job.state == JobState::Cancelled) return RequestError(409, "", "the job was cancelled");
  return RequestError(job.error_status, "", job.error);
}

}  // namespace sdxl::server

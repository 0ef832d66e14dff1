#include "server/http/http_common.h"

#include "server/api/request_parsers.h"

namespace sdxl::server {

void send_json(http::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

const char* reason_phrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return status >= 500 ? "Internal Server Error" : "Bad Request";
  }
}

void send_error(http::Response& res, const RequestError& e) {
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
  names.controlnet = [&ctx](const std::string& name) -> std::optional<std::string> {
    const auto entry = ctx.catalog.find_controlnet(name);
    if (!entry) return std::nullopt;
    return entry->path.string();
  };
  names.controlnet_name = [&ctx](const std::string& path) {
    for (const auto& c : ctx.catalog.controlnets())
      if (c.path.string() == path) return c.title;
    return std::filesystem::path(path).filename().string();
  };
  names.image_encoder = [&ctx](const std::string& name) -> std::optional<std::string> {
    const auto path = ctx.catalog.find_image_encoder(name);
    if (!path) return std::nullopt;
    return path->string();
  };
  names.upscaler = [&ctx](const std::string& name) -> std::optional<std::string> {
    const auto path = ctx.catalog.find_upscaler(name);
    if (!path) return std::nullopt;
    return path->string();
  };
  names.refiner = ctx.options.refiner;
  if (!ctx.options.vae.empty()) names.vae = std::filesystem::path(ctx.options.vae).filename().string();
  names.styles = &ctx.catalog.styles();
  return names;
}

namespace {

class JobWait final : public http::Pending {
 public:
  JobWait(const ServerContext& ctx, std::string id, JobAnswer then, ErrorSender send)
      : ctx_(ctx), id_(std::move(id)), then_(std::move(then)), send_(send), since_(std::chrono::steady_clock::now()) {}

  Poll poll(std::string&) override {
    auto view = ctx_.queue.view(id_);
    if (view && view->state == JobState::Queued && nobody_will_take(view->checkpoint)) {
      ctx_.queue.cancel(id_);
      no_worker_ = true;
      return Poll::Done;
    }
    if (view && !view->done()) return Poll::Waiting;
    job_ = std::move(view);
    return Poll::Done;
  }
  void complete(http::Response& res) override {
    try {
      if (no_worker_)
        throw RequestError(503, "", "no worker has taken the job in " + std::to_string(ctx_.options.no_worker_timeout_s) +
                                        " s and none is alive for it; it was cancelled (start an sdxl worker, then try again)");
      if (!job_) throw RequestError(500, "", "the job " + id_ + " was dropped before it ended");
      then_(*job_, res);
    } catch (const RequestError& e) {
      send_(res, e);
    } catch (const std::exception& e) {
      send_(res, RequestError(500, "", e.what()));
    }
  }
  void client_gone() override { ctx_.queue.cancel(id_); }

 private:
  // Queued past --no-worker-timeout with no live worker that could take it (asked once a second).
  bool nobody_will_take(const std::string& checkpoint) {
    const auto now = std::chrono::steady_clock::now();
    if (now - since_ < std::chrono::seconds(ctx_.options.no_worker_timeout_s) || now - last_asked_ < std::chrono::seconds(1)) return false;
    last_asked_ = now;
    try {
      return !ctx_.queue.has_worker_for(checkpoint);
    } catch (const RequestError&) {
      return false;  // the queue is unreachable: keep waiting (nothing is lost while it is away)
    }
  }

  const ServerContext& ctx_;
  const std::string id_;
  JobAnswer then_;
  ErrorSender send_;
  std::optional<JobView> job_;
  const std::chrono::steady_clock::time_point since_;
  std::chrono::steady_clock::time_point last_asked_{};
  bool no_worker_ = false;
};

}  // namespace

void answer_when_done(const ServerContext& ctx, const std::string& id, http::Response& res, JobAnswer then, ErrorSender send) {
  res.defer(std::make_shared<JobWait>(ctx, id, std::move(then), send));
}

RequestError job_error(const JobView& job) {
  if (job.state == JobState::Cancelled) return RequestError(409, "", "the job was cancelled");
  return RequestError(job.error_status, "", job.error);
}

}  // namespace sdxl::server

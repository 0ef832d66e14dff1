// sdxl's own jobs API, for clients that want what AUTOMATIC1111's lacks: a job id per request,
// its progress (polled, or pushed as Server-Sent Events with previews), cancellation, and the
// results fetched by id. Request fields are diffusers' names.
//   POST   /v1/jobs                  -> 202 {id, status, queue_position}
//   GET    /v1/jobs/{id}             -> {id, status, step, total, queue_position, preview, images, error}
//   GET    /v1/jobs/{id}/events      -> text/event-stream of the same, until the job ends
//   GET    /v1/jobs/{id}/images/{n}  -> image/png (or jpeg, webp: output_format)
//   DELETE /v1/jobs/{id}             -> cancels a queued or running job
#include "server/http/base64.h"
#include "server/http/http_common.h"
#include "server/api/request_parsers.h"
#include "server/http/routes.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

json describe(const JobView& job, bool with_preview) {
  json images = json::array();
  for (size_t i = 0; i < job.images.size(); ++i)
    images.push_back({{"url", "/v1/jobs/" + job.id + "/images/" + std::to_string(i)}, {"parameters", job.images[i].infotext}});
  json out = {{"id", job.id},       {"status", state_name(job.state)}, {"stage", job.stage},   {"step", job.step},
              {"total", job.total}, {"progress", job.progress()},      {"queue_position", job.queue_position},
              {"images", images},   {"seeds", job.seeds},              {"model", job.checkpoint}};
  if (!job.error.empty()) out["error"] = job.error;
  if (with_preview && !job.preview_png.empty()) out["preview"] = base64_encode(job.preview_png);
  return out;
}

JobView found(const ServerContext& ctx, const std::string& id) {
  const auto view = ctx.queue.view(id);
  if (!view) throw RequestError(404, "id", "no job " + id + " (finished jobs are kept for a while, then dropped)");
  return *view;
}

// GET /v1/jobs/{id}/events: an event per change until the job ends; a comment after a quiet
// quarter of a minute keeps proxies from closing the stream.
class JobEvents final : public http::Pending {
 public:
  JobEvents(const ServerContext& ctx, std::string id) : ctx_(ctx), id_(std::move(id)) {}
  std::string stream_type() const override { return "text/event-stream"; }

  Poll poll(std::string& event) override {
    const auto view = ctx_.queue.view(id_);
    if (!view) return Poll::Done;
    const auto now = std::chrono::steady_clock::now();
    if (sent_ && view->version == version_ && !view->done()) {
      if (now - last_ < std::chrono::seconds(15)) return Poll::Waiting;
      last_ = now;
      event = ": keep-alive\n\n";
      return Poll::Event;
    }
    sent_ = true;
    version_ = view->version;
    last_ = now;
    event = "event: " + std::string(view->done() ? "done" : "progress") + "\ndata: " + describe(*view, true).dump() + "\n\n";
    return view->done() ? Poll::Done : Poll::Event;
  }

 private:
  const ServerContext& ctx_;
  const std::string id_;
  bool sent_ = false;
  uint64_t version_ = 0;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

void add_jobs_routes(Router& server, const ServerContext& ctx) {
  server.Post("/v1/jobs", guarded([&ctx](const http::Request& req, http::Response& res) {
    JobRequest request = parse_job_request(parse_body(req.body), lookup_of(ctx));
    request.request_id = req.id;
    const std::string id = ctx.queue.submit(std::move(request));
    const JobView job = found(ctx, id);
    send_json(res, 202, {{"id", id}, {"status", state_name(job.state)}, {"queue_position", job.queue_position}});
  }, send_error, jobs_field_of));
  server.Get(R"(/v1/jobs/([0-9a-f]+))", guarded([&ctx](const http::Request& req, http::Response& res) {
    send_json(res, 200, describe(found(ctx, req.matches[1]), true));
  }));
  server.Delete(R"(/v1/jobs/([0-9a-f]+))", guarded([&ctx](const http::Request& req, http::Response& res) {
    const std::string id = req.matches[1];
    found(ctx, id);
    if (!ctx.queue.cancel(id)) throw RequestError(409, "id", "job " + id + " has finished already");
    send_json(res, 200, describe(found(ctx, id), false));
  }));
  server.Get(R"(/v1/jobs/([0-9a-f]+)/images/([0-9]{1,9}))", guarded([&ctx](const http::Request& req, http::Response& res) {
    const JobView job = found(ctx, req.matches[1]);
    const size_t n = std::stoul(req.matches[2]);
    if (job.state != JobState::Succeeded) throw RequestError(409, "id", "job " + job.id + " is " + state_name(job.state));
    if (n >= job.images.size()) throw RequestError(404, "n", "job " + job.id + " has " + std::to_string(job.images.size()) + " images");
    res.set_content(job.images[n].bytes, image_mime_type(job.images[n].bytes));
  }));
  server.Get(R"(/v1/jobs/([0-9a-f]+)/events)", guarded([&ctx](const http::Request& req, http::Response& res) {
    const std::string id = req.matches[1];
    found(ctx, id);
    res.defer(std::make_shared<JobEvents>(ctx, id));
  }));
}

}  // namespace sdxl::server

#include "server/api/openai_stream.h"

#include <chrono>

#include "server/http/base64.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string sse(const std::string& name, const json& data) { return "event: " + name + "\ndata: " + data.dump() + "\n\n"; }

class ImageStream final : public http::Pending {
 public:
  ImageStream(const ServerContext& ctx, std::string id, const OpenAiAnswer& answer, std::string output_format, bool edit)
      : ctx_(ctx), id_(std::move(id)), answer_(answer), output_format_(std::move(output_format)),
        prefix_(edit ? "image_edit." : "image_generation."), last_(std::chrono::steady_clock::now()) {}
  std::string stream_type() const override { return "text/event-stream"; }

  Poll poll(std::string& event) override {
    const auto view = ctx_.queue.view(id_);
    if (!view) {
      event = sse("error", error_of(RequestError(500, "", "the job " + id_ + " was dropped before it ended")));
      return Poll::Done;
    }
    if (view->done()) {
      event = finish(*view);
      return Poll::Done;
    }
    // Partial image k once the denoising has passed (k + 1) / (partial_images + 1) of its steps.
    if (sent_partials_ < answer_.partial_images && view->state == JobState::Running && view->total > 0 &&
        !view->preview_png.empty() &&
        int64_t{view->step} * (answer_.partial_images + 1) >= int64_t{sent_partials_ + 1} * view->total) {
      event = sse(prefix_ + "partial_image", {{"type", prefix_ + "partial_image"},
                                              {"b64_json", base64_encode(view->preview_png)},
                                              {"created_at", unix_seconds()},
                                              {"size", size_of(*view)},
                                              {"quality", "auto"},
                                              {"background", "opaque"},
                                              {"output_format", "png"},  // previews are PNGs, whatever the images' format
                                              {"partial_image_index", sent_partials_}});
      ++sent_partials_;
      last_ = std::chrono::steady_clock::now();
      return Poll::Event;
    }
    if (std::chrono::steady_clock::now() - last_ < std::chrono::seconds(15)) return Poll::Waiting;
    last_ = std::chrono::steady_clock::now();
    event = ": keep-alive\n\n";
    return Poll::Event;
  }

  void client_gone() override { ctx_.queue.cancel(id_); }

 private:
  std::string finish(const JobView& job) const {
    if (job.state != JobState::Succeeded) return sse("error", error_of(job_error(job)));
    std::string out;
    for (const auto& image : job.images)
      out += sse(prefix_ + "completed", {{"type", prefix_ + "completed"},
                                         {"b64_json", base64_encode(image.bytes)},
                                         {"created_at", unix_seconds()},
                                         {"size", size_of(job)},
                                         {"quality", "auto"},
                                         {"background", "opaque"},
                                         {"output_format", output_format_}});
    return out;
  }

  std::string size_of(const JobView&) const { return answer_.size; }

  static json error_of(const RequestError& e) {
    const char* type = e.status() >= 500 ? "server_error" : "invalid_request_error";
    return {{"type", "error"},
            {"error", {{"message", e.what()}, {"type", type}, {"param", e.field().empty() ? json(nullptr) : json(e.field())},
                       {"code", e.status() == 409 ? json("cancelled") : json(nullptr)}}}};
  }

  const ServerContext& ctx_;
  const std::string id_;
  const OpenAiAnswer answer_;
  const std::string output_format_;
  const std::string prefix_;
  int sent_partials_ = 0;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace

std::shared_ptr<http::Pending> openai_image_stream(const ServerContext& ctx, std::string job_id, const OpenAiAnswer& answer,
                                                   const std::string& output_format, bool edit) {
  return std::make_shared<ImageStream>(ctx, std::move(job_id), answer, output_format, edit);
}

}  // namespace sdxl::server

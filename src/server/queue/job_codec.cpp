#include "server/queue/job_codec.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "server/jobs/generation_json.h"
#include "server/http/json_depth.h"
#include "server/http/request_fields.h"

namespace sdxl::server {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A folder both ends have their own copy of: its field, option and what it holds, for errors.
struct SharedFolder {
  const std::string& dir;
  const char* field;   // "loras", "controlnets"
  const char* option;  // "--lora-dir", "--controlnet-dir"
  const char* what;    // "LoRA", "ControlNet"
  bool folders_too;    // entries may be folders (diffusers ControlNets)
};

// A path inside the folder, as text relative to it.
std::string inside(const std::string& path, const SharedFolder& f) {
  if (f.dir.empty()) throw RequestError(422, f.field, std::string(f.what) + "s need " + f.option + " on the front end");
  const fs::path relative = fs::path(path).lexically_relative(f.dir);
  if (relative.empty() || *relative.begin() == "..")
    throw RequestError(422, f.field, path + " is not inside " + f.option);
  return relative.generic_string();
}

std::string resolve_inside(const std::string& relative, const SharedFolder& f) {
  if (f.dir.empty())
    throw RequestError(422, f.field, std::string("this worker has no ") + f.option + ", and the job asks for " + f.what + " " + relative);
  const fs::path p = fs::path(relative).lexically_normal();
  if (p.is_absolute() || p.empty() || *p.begin() == "..")
    throw RequestError(422, f.field, std::string(f.what) + " path '" + relative + "' leaves " + f.option);
  const fs::path full = fs::path(f.dir) / p;
  std::error_code ec;
  if (!fs::is_regular_file(full, ec) && !(f.folders_too && fs::is_directory(full, ec)))
    throw RequestError(404, f.field, std::string(f.what) + " " + relative + " is not in this worker's " + f.option);
  return full.string();
}

FileNaming naming_in(const QueueFolders& folders) {
  const SharedFolder loras{folders.lora_dir, "loras", "--lora-dir", "LoRA", false};
  const SharedFolder nets{folders.controlnet_dir, "controlnets", "--controlnet-dir", "ControlNet", true};
  const SharedFolder encoders{folders.image_encoder_dir, "ip_adapter.image_encoder", "--image-encoder-dir", "image encoder",
                              true};
  const SharedFolder upscalers{folders.upscaler_dir, "hires.upscaler", "--upscaler-dir", "upscaler", false};
  return {[loras](const std::string& name, const char*) { return resolve_inside(name, loras); },
          [loras](const std::string& path) { return inside(path, loras); },
          [nets](const std::string& name, const std::string&) { return resolve_inside(name, nets); },
          [nets](const std::string& path) { return inside(path, nets); },
          [encoders](const std::string& name, const std::string&) { return resolve_inside(name, encoders); },
          [encoders](const std::string& path) { return inside(path, encoders); },
          [upscalers](const std::string& name, const std::string&) { return resolve_inside(name, upscalers); },
          [upscalers](const std::string& path) { return inside(path, upscalers); }};
}

}  // namespace

std::string encode_job(const JobRequest& job, const QueueFolders& folders) {
  json j = generation_to_json(job.generation, naming_in(folders));
  j["model"] = job.checkpoint;
  j["n_iter"] = job.repeats;
  j["output_format"] = job.output.format;
  if (job.output.quality > 0) j["output_quality"] = job.output.quality;  // 0: the format's default
  j["output_lossless"] = job.output.lossless;
  j["request_id"] = job.request_id;
  j["submitted_ms"] = job.submitted_ms;
  return j.dump();
}

JobRequest decode_job(const std::string& text, const QueueFolders& folders) {
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    throw RequestError(422, "", "the queued job is not one this worker can read: it nests too deep");
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw RequestError(422, "", "the queued job is not one this worker can read: not a JSON object");
  if (!j.contains("prompt")) throw RequestError(422, "", "the queued job is not one this worker can read: no prompt");
  JobRequest job;
  try {
    job.generation = generation_from_json(j, naming_in(folders), {}, {"model", "n_iter", "output_format", "output_quality", "output_lossless", "request_id", "submitted_ms"});
    const Fields f(j);
    job.checkpoint = f.text("model", "");
    job.repeats = static_cast<int>(f.integer("n_iter", 1, 1, 100));
    job.output = image_output_of(f, "output_format", "output_quality", "output_lossless");
    job.request_id = f.text("request_id", "");
    job.submitted_ms = f.integer("submitted_ms", 0, 0, INT64_MAX);
  } catch (const RequestError& e) {
    if (e.status() == 404) throw;  // a LoRA this worker does not have
    throw RequestError(422, e.field(), std::string("the queued job is not one this worker can read: ") + e.what());
  }
  return job;
}

}  // namespace sdxl::server

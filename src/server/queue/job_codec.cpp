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

// A LoRA's path inside `dir`, as text relative to it.
std::string inside(const std::string& path, const std::string& dir) {
  if (dir.empty()) throw RequestError(422, "loras", "LoRAs need --lora-dir on the front end");
  const fs::path relative = fs::path(path).lexically_relative(dir);
  if (relative.empty() || *relative.begin() == "..") throw RequestError(422, "loras", path + " is not inside --lora-dir");
  return relative.generic_string();
}

std::string resolve_inside(const std::string& relative, const std::string& dir) {
  if (dir.empty()) throw RequestError(422, "loras", "this worker has no --lora-dir, and the job asks for LoRA " + relative);
  const fs::path p = fs::path(relative).lexically_normal();
  if (p.is_absolute() || p.empty() || *p.begin() == "..") throw RequestError(422, "loras", "LoRA path '" + relative + "' leaves --lora-dir");
  const fs::path full = fs::path(dir) / p;
  std::error_code ec;
  if (!fs::is_regular_file(full, ec)) throw RequestError(404, "loras", "LoRA " + relative + " is not in this worker's --lora-dir");
  return full.string();
}

FileNaming naming_in(const std::string& lora_dir) {
  return {[&lora_dir](const std::string& name, const char*) { return resolve_inside(name, lora_dir); },
          [&lora_dir](const std::string& path) { return inside(path, lora_dir); }};
}

}  // namespace

std::string encode_job(const JobRequest& job, const std::string& lora_dir) {
  json j = generation_to_json(job.generation, naming_in(lora_dir));
  j["model"] = job.checkpoint;
  j["n_iter"] = job.repeats;
  j["output_format"] = job.output.format;
  if (job.output.quality > 0) j["output_quality"] = job.output.quality;  // 0: the format's default
  j["output_lossless"] = job.output.lossless;
  return j.dump();
}

JobRequest decode_job(const std::string& text, const std::string& lora_dir) {
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    throw RequestError(422, "", "the queued job is not one this worker can read: it nests too deep");
  const json j = json::parse(text, nullptr, false);
  if (!j.is_object()) throw RequestError(422, "", "the queued job is not one this worker can read: not a JSON object");
  if (!j.contains("prompt")) throw RequestError(422, "", "the queued job is not one this worker can read: no prompt");
  JobRequest job;
  try {
    job.generation = generation_from_json(j, naming_in(lora_dir), {}, {"model", "n_iter", "output_format", "output_quality", "output_lossless"});
    const Fields f(j);
    job.checkpoint = f.text("model", "");
    job.repeats = static_cast<int>(f.integer("n_iter", 1, 1, 100));
    job.output = image_output_of(f, "output_format", "output_quality", "output_lossless");
  } catch (const RequestError& e) {
    if (e.status() == 404) throw;  // a LoRA this worker does not have
    throw RequestError(422, e.field(), std::string("the queued job is not one this worker can read: ") + e.what());
  }
  return job;
}

}  // namespace sdxl::server

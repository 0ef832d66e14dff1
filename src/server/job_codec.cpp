#include "server/job_codec.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "server/base64.h"
#include "server/json_depth.h"
#include "server/request_fields.h"

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

}  // namespace

std::string encode_job(const GenerationSpec& s, const std::string& lora_dir) {
  json j = {{"prompts", s.prompts},
            {"negative_prompts", s.negative_prompts},
            {"width", s.width},
            {"height", s.height},
            {"steps", s.steps},
            {"images_per_prompt", s.images_per_prompt},
            {"guidance", s.guidance},
            {"seed", s.seed},
            {"sampler", s.sampler},
            {"scheduler", s.scheduler},
            {"prompt_syntax", s.prompt_syntax},
            {"clip_skip", s.clip_skip},
            {"strength", s.strength},
            {"refiner_mode", s.refiner_mode},
            {"high_noise_frac", s.high_noise_frac},
            {"checkpoint", s.checkpoint},
            {"repeats", s.repeats},
            {"preview_every", s.preview_every}};
  if (s.prompt_2) j["prompt_2"] = *s.prompt_2;
  // The uploads as they came (compressed): the worker decodes them when the job runs.
  if (s.init_image) j["init_image"] = {{"bytes", base64_encode(s.init_image->bytes)}, {"field", s.init_image->field}};
  if (s.mask) j["mask"] = {{"bytes", base64_encode(s.mask->bytes)}, {"field", s.mask->field}};
  json loras = json::array();
  for (const auto& [path, weight] : s.loras) loras.push_back({{"path", inside(path, lora_dir)}, {"weight", weight}});
  j["loras"] = loras;
  return j.dump();
}

GenerationSpec decode_job(const std::string& text, const std::string& lora_dir) {
  GenerationSpec s;
  if (json_nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth)
    throw RequestError(422, "", "the queued job is not one this worker can read: it nests too deep");
  try {
    const json j = json::parse(text);
    s.prompts = j.at("prompts").get<std::vector<std::string>>();
    s.negative_prompts = j.at("negative_prompts").get<std::vector<std::string>>();
    if (j.contains("prompt_2")) s.prompt_2 = j.at("prompt_2").get<std::string>();
    s.width = j.at("width").get<int>();
    s.height = j.at("height").get<int>();
    s.steps = j.at("steps").get<int>();
    s.images_per_prompt = j.at("images_per_prompt").get<int>();
    s.guidance = j.at("guidance").get<double>();
    s.seed = j.at("seed").get<uint64_t>();
    s.sampler = j.at("sampler").get<std::string>();
    s.scheduler = j.at("scheduler").get<std::string>();
    s.prompt_syntax = j.at("prompt_syntax").get<std::string>();
    s.clip_skip = j.at("clip_skip").get<int>();
    s.strength = j.at("strength").get<double>();
    s.refiner_mode = j.at("refiner_mode").get<std::string>();
    s.high_noise_frac = j.at("high_noise_frac").get<double>();
    s.checkpoint = j.at("checkpoint").get<std::string>();
    s.repeats = j.at("repeats").get<int>();
    s.preview_every = j.at("preview_every").get<int>();
    const auto upload = [&j, &s](const char* key) {
      const json& u = j.at(key);
      const std::string field = u.at("field").get<std::string>();
      return upload_of(u.at("bytes").get<std::string>(), field, max_upload_pixels(s));
    };
    if (j.contains("init_image")) s.init_image = upload("init_image");
    if (j.contains("mask")) s.mask = upload("mask");
    for (const auto& l : j.at("loras"))
      s.loras.emplace_back(resolve_inside(l.at("path").get<std::string>(), lora_dir), l.at("weight").get<double>());
  } catch (const json::exception& e) {
    throw RequestError(422, "", std::string("the queued job is not one this worker can read: ") + e.what());
  }
  if (s.repeats < 1 || s.repeats > 100 || s.prompts.empty())
    throw RequestError(422, "", "the queued job is not one this worker can read: bad repeats or prompts");
  return s;
}

}  // namespace sdxl::server

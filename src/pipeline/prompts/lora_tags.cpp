#include "pipeline/prompts/lora_tags.h"

#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "pipeline/request/request_limits.h"

namespace sdxl::pipeline {
namespace {

double parse_weight(const std::string& text, const std::string& tag) {
  char* end = nullptr;
  const double w = std::strtod(text.c_str(), &end);
  SDXL_CHECK_PARAM(!text.empty() && end && *end == '\0' && std::isfinite(w), InvalidArgument, "prompts", "[lora] ", tag,
             ": the weight '", text, "' is not a number");
  SDXL_CHECK_PARAM(std::abs(w) <= RequestLimits::kMaxLoraWeight, InvalidArgument, "prompts", "[lora] ", tag, ": the weight ", text,
             " is outside [-", RequestLimits::kMaxLoraWeight, ", ", RequestLimits::kMaxLoraWeight, "]");
  return w;
}

}  // namespace

std::vector<LoraTag> take_lora_tags(std::string& prompt) {
  std::vector<LoraTag> tags;
  std::string out;
  size_t i = 0;
  while (i < prompt.size()) {
    const size_t open = prompt.find('<', i);
    if (open == std::string::npos) break;
    const size_t close = prompt.find('>', open + 1);
    if (close == std::string::npos) break;
    const std::string body = prompt.substr(open + 1, close - open - 1);
    const size_t colon = body.find(':');
    const std::string kind = colon == std::string::npos ? "" : body.substr(0, colon);
    if (kind != "lora" && kind != "lyco") {
      out += prompt.substr(i, open + 1 - i);
      i = open + 1;
      continue;
    }
    const std::string tag = "<" + body + ">";
    std::vector<std::string> args;
    for (size_t at = colon + 1;;) {
      const size_t next = body.find(':', at);
      args.push_back(body.substr(at, next == std::string::npos ? std::string::npos : next - at));
      if (next == std::string::npos) break;
      at = next + 1;
    }
    SDXL_CHECK_PARAM(!args[0].empty(), InvalidArgument, "prompts", "[lora] ", tag, ": no LoRA name");
    LoraTag t{args[0], args.size() > 1 ? parse_weight(args[1], tag) : 1.0};
    // A1111's third number is a separate UNet weight; one weight applies to both here.
    SDXL_CHECK_PARAM(args.size() <= 2 || parse_weight(args[2], tag) == t.weight, InvalidArgument, "prompts", "[lora] ", tag,
               ": separate text-encoder and UNet weights are not supported; give one weight");
    tags.push_back(std::move(t));
    out += prompt.substr(i, open - i);
    i = close + 1;
  }
  out += prompt.substr(std::min(i, prompt.size()));
  prompt = std::move(out);
  return tags;
}

std::filesystem::path find_lora_file(const std::filesystem::path& dir, const std::string& name) {
  namespace fs = std::filesystem;
  SDXL_CHECK_PARAM(!dir.empty(), InvalidArgument, "prompts", "[lora] the prompt asks for <lora:", name,
             ">, but no LoRA folder is set (--lora-dir)");
  SDXL_CHECK_PARAM(name.find('/') == std::string::npos && name.find('\\') == std::string::npos && name != "." && name != "..",
             InvalidArgument, "prompts", "[lora] <lora:", name, ">: a LoRA is named by its file name, without folders");
  std::error_code ec;
  // AUTOMATIC1111's Lora extension lists .safetensors, .pt and .ckpt; safetensors first.
  const char* extensions[] = {".safetensors", ".pt", ".ckpt"};
  for (const char* ext : extensions)
    if (const fs::path direct = dir / (name + ext); fs::is_regular_file(direct, ec)) return direct;
  for (const char* ext : extensions)
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && it->path().filename() == name + ext) return it->path();
  fail_parameter("prompts", ErrorCode::InvalidArgument, "[lora] <lora:", name, ">: no ", name, ".safetensors (or .pt, .ckpt) in ",
                 dir.string(), " or its subfolders");
}

}  // namespace sdxl::pipeline

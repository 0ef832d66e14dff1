#include "pipeline/prompts/tokenizer_loader.h"

#include <fstream>
#include <sstream>

#include "io/json_file.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// transformers keeps merges.txt lines 1 .. 49152 - 256 - 2 (after the "#version" header):
// CLIP's vocabulary size minus the byte symbols and the two special tokens.
constexpr size_t kMaxMerges = 49152 - 256 - 2;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "[tokenizer] ", path.string(), ": cannot open (missing file?)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A special token is either "text" or {"content": "text", ...} (an AddedToken).
void read_special(const json& object, const char* key, std::string& out, const fs::path& file) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return;
  if (it->is_string()) {
    out = it->get<std::string>();
  } else if (it->is_object() && it->contains("content") && it->at("content").is_string()) {
    out = it->at("content").get<std::string>();
  } else {
    fail(ErrorCode::Format, "[tokenizer] ", file.string(), ": ", key, " must be a string or an AddedToken object");
  }
}

}  // namespace

tokenizer::ClipTokenizer load_clip_tokenizer(const fs::path& dir, const fs::path& vocab_dir) {
  tokenizer::TokenizerSpec spec;
  spec.source = dir.string();

  const fs::path vocab_path = (vocab_dir.empty() ? dir : vocab_dir) / "vocab.json";
  json vocab = io::read_json_object(vocab_path, "tokenizer");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > INT32_MAX)
      fail(ErrorCode::Format, "[tokenizer] ", vocab_path.string(), ": the id of '", it.key(),
           "' is not a non-negative integer");
    spec.vocab.emplace(it.key(), static_cast<int32_t>(it->get<int64_t>()));
  }

  const fs::path merges_path = (vocab_dir.empty() ? dir : vocab_dir) / "merges.txt";
  std::string merges = read_text(merges_path);
  // Python's str.strip() then split("\n"); the first line is the "#version" header.
  const auto first = merges.find_first_not_of(" \t\r\n");
  const auto last = merges.find_last_not_of(" \t\r\n");
  merges = first == std::string::npos ? "" : merges.substr(first, last - first + 1);
  std::istringstream lines(merges);
  std::string line;
  size_t line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line_number == 1) continue;
    if (spec.merges.size() == kMaxMerges) break;
    std::istringstream parts(line);
    std::string a, b, extra;
    if (!(parts >> a >> b) || (parts >> extra))
      fail(ErrorCode::Format, "[tokenizer] ", merges_path.string(), ": line ", line_number,
           " is not a pair of symbols: '", line, "'");
    spec.merges.emplace_back(a, b);
  }
  if (spec.merges.empty()) fail(ErrorCode::Format, "[tokenizer] ", merges_path.string(), ": no merges");

  // tokenizer_config.json first, then special_tokens_map.json overrides, as transformers does.
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const fs::path path = dir / name;
    if (!fs::exists(path)) continue;
    json config = io::read_json_object(path, "tokenizer");
    read_special(config, "bos_token", spec.bos_token, path);
    read_special(config, "eos_token", spec.eos_token, path);
    read_special(config, "unk_token", spec.unk_token, path);
    read_special(config, "pad_token", spec.pad_token, path);
    if (config.contains("model_max_length")) {
      io::JsonFields f(config, path.string(), "tokenizer");
      int64_t n = f.integer("model_max_length", 77);
      if (n < 2 || n > 100000) f.bad("model_max_length", "must be between 2 and 100000");
      spec.max_length = static_cast<int>(n);
    }
  }
  return with_tokenizer_errors([&] { return tokenizer::ClipTokenizer(std::move(spec)); });
}

}  // namespace sdxl::pipeline

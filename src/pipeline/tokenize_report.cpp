#include "pipeline/tokenize_report.h"

#include "pipeline/model_source.h"
#include "pipeline/tokenizer_loader.h"

namespace sdxl::pipeline {

std::string tokenize_report(const std::filesystem::path& model_dir, const std::string& text) {
  const auto source = open_model_source(model_dir);
  std::string report;
  for (const char* name : {"tokenizer", "tokenizer_2"}) {
    if (!source->has(name)) continue;
    auto tokenizer = load_clip_tokenizer(source->tokenizer_dir(name));
    auto ids = with_tokenizer_errors([&] { return tokenizer.encode(text); });
    report += name;
    report += ":";
    for (int32_t id : ids) report += " " + std::to_string(id);
    report += "\n";
  }
  SDXL_CHECK(!report.empty(), Format, "[tokenize] ", model_dir.string(), ": the model has no tokenizer folder");
  return report;
}

}  // namespace sdxl::pipeline

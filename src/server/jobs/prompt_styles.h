// AUTOMATIC1111's prompt styles: a styles.csv (name, prompt, negative_prompt; read as Python's
// csv.DictReader with skipinitialspace reads it, "#" names skipped) and their application: a
// style's text with "{prompt}" takes the prompt there, any other is appended after ", ".
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace sdxl::server {

struct PromptStyle {
  std::string name, prompt, negative_prompt;
};

class PromptStyles {
 public:
  PromptStyles() = default;
  // Throws std::runtime_error naming the file and line of what it cannot read.
  static PromptStyles load(const std::filesystem::path& csv);
  static PromptStyles parse(const std::string& text, const std::string& what);

  const std::vector<PromptStyle>& all() const { return styles_; }
  const PromptStyle* find(const std::string& name) const;
  // apply_styles_to_prompt / apply_negative_styles_to_prompt, styles in order.
  std::string apply(std::string prompt, const std::vector<const PromptStyle*>& styles, bool negative) const;

 private:
  std::vector<PromptStyle> styles_;
};

// merge_prompts: "{prompt}" in the style is replaced by the prompt; else both, stripped and
// non-empty, joined by ", ".
std::string merge_prompts(const std::string& style, const std::string& prompt);

}  // namespace sdxl::server

#include "server/jobs/prompt_styles.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sdxl::server {
namespace {

std::string strip(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\n\r\f\v");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\n\r\f\v") - first + 1);
}

// Python's csv reader (excel dialect, skipinitialspace): rows of fields; quotes double to escape
// and may hold commas and newlines.
std::vector<std::vector<std::string>> csv_rows(const std::string& text, const std::string& what) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  size_t line = 1;
  const auto end_field = [&] {
    row.push_back(field);
    field.clear();
    field_started = false;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      if (field_started || !row.empty()) end_field();
      if (!row.empty()) rows.push_back(std::move(row));
      row.clear();
    } else if (c == ' ' && !field_started) {
      continue;  // skipinitialspace
    } else {
      field += c;
      field_started = true;
    }
  }
  if (quoted) throw std::runtime_error(what + ": a quoted field is not closed (from line " + std::to_string(line) + ")");
  if (field_started || !row.empty()) end_field();
  if (!row.empty()) rows.push_back(std::move(row));
  return rows;
}

}  // namespace

std::string merge_prompts(const std::string& style, const std::string& prompt) {
  const std::string key = "{prompt}";
  if (style.find(key) != std::string::npos) {
    std::string out;
    size_t at = 0;
    for (size_t found; (found = style.find(key, at)) != std::string::npos; at = found + key.size())
      out += style.substr(at, found - at) + prompt;
    return out + style.substr(at);
  }
  const std::string a = strip(prompt), b = strip(style);
  return a.empty() ? b : b.empty() ? a : a + ", " + b;
}

PromptStyles PromptStyles::parse(const std::string& raw, const std::string& what) {
  std::string text = raw.rfind("\xEF\xBB\xBF", 0) == 0 ? raw.substr(3) : raw;  // utf-8-sig
  const auto rows = csv_rows(text, what);
  PromptStyles out;
  if (rows.empty()) return out;
  const auto& header = rows.front();
  auto column = [&](const char* name) -> int {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return static_cast<int>(i);
    return -1;
  };
  const int name = column("name");
  const int prompt = column("prompt") >= 0 ? column("prompt") : column("text");
  const int negative = column("negative_prompt");
  if (name < 0 || prompt < 0) throw std::runtime_error(what + ": the header must name the columns name and prompt (and negative_prompt)");
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    const auto at = [&](int i) { return i >= 0 && static_cast<size_t>(i) < row.size() ? row[static_cast<size_t>(i)] : std::string(); };
    if (at(name).empty() || at(name)[0] == '#') continue;
    PromptStyle style{at(name), at(prompt), at(negative)};
    bool replaced = false;
    for (auto& s : out.styles_)
      if (s.name == style.name) {
        s = style;  // a later row of the same name wins, as in a dict
        replaced = true;
      }
    if (!replaced) out.styles_.push_back(std::move(style));
  }
  return out;
}

PromptStyles PromptStyles::load(const std::filesystem::path& csv) {
  std::ifstream in(csv, std::ios::binary);
  if (!in) throw std::runtime_error(csv.string() + ": cannot read the styles file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), csv.string());
}

const PromptStyle* PromptStyles::find(const std::string& name) const {
  for (const auto& s : styles_)
    if (s.name == name) return &s;
  return nullptr;
}

std::string PromptStyles::apply(std::string prompt, const std::vector<const PromptStyle*>& styles, bool negative) const {
  for (const PromptStyle* s : styles) prompt = merge_prompts(negative ? s->negative_prompt : s->prompt, prompt);
  return prompt;
}

}  // namespace sdxl::server

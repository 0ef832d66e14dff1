#include "server/api/a1111_infotext.h"

#include <cctype>
#include <utility>
#include <vector>

namespace sdxl::server {
namespace {

using nlohmann::json;

// Python's \w on UTF-8 text: ASCII letters, digits, '_', and any non-ASCII byte (the letters of
// other scripts; infotext keys are ASCII).
bool word(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }
bool space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// re.findall(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)', line), written out: no
// backtracking regex engine runs over a client's text.
std::vector<std::pair<std::string, std::string>> find_params(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  const size_t n = line.size();
  size_t start = 0;
  while (start < n) {
    size_t p = start;
    while (p < n && space(static_cast<unsigned char>(line[p]))) ++p;
    // The key: \w then one or more of [\w -/], the longest such run, followed by ':'. (A shorter
    // run would end before one of those characters, never before ':'.)
    size_t key_end = p;
    if (p < n && word(static_cast<unsigned char>(line[p]))) {
      key_end = p + 1;
      while (key_end < n) {
        const auto c = static_cast<unsigned char>(line[key_end]);
        if (!(word(c) || c == ' ' || c == '-' || c == '/')) break;
        ++key_end;
      }
    }
    if (key_end < p + 2 || key_end >= n || line[key_end] != ':') {
      ++start;  // findall tries the next position
      continue;
    }
    size_t v = key_end + 1;
    while (v < n && space(static_cast<unsigned char>(line[v]))) ++v;
    // A quoted value ending right before ',' or the end; otherwise everything up to the next ','.
    size_t value_end = std::string::npos;
    if (v < n && line[v] == '"') {
      size_t q = v + 1;
      while (q < n && line[q] != '"') q += (line[q] == '\\' && q + 1 < n) ? 2 : (line[q] == '\\' ? n : 1);
      if (q < n && q > v + 1 && (q + 1 == n || line[q + 1] == ',')) value_end = q + 1;
    }
    if (value_end == std::string::npos) value_end = std::min(line.find(',', v), n);
    out.emplace_back(line.substr(p, key_end - p), line.substr(v, value_end - v));
    start = value_end < n ? value_end + 1 : n;  // past the ','
  }
  return out;
}

std::string strip(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && space(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && space(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// infotext_utils.unquote: a JSON string, or the text as it is when it does not parse.
std::string unquote(const std::string& v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return v;
  const json parsed = json::parse(v, nullptr, false);
  return parsed.is_string() ? parsed.get<std::string>() : v;
}

// re_imagesize: ^(\d+)x(\d+)$
bool image_size(const std::string& v, std::string& w, std::string& h) {
  const size_t x = v.find('x');
  if (x == std::string::npos || x == 0 || x + 1 == v.size()) return false;
  for (size_t i = 0; i < v.size(); ++i)
    if (i != x && !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  w = v.substr(0, x);
  h = v.substr(x + 1);
  return true;
}

}  // namespace

json parse_generation_parameters(const std::string& text) {
  json res = json::object();
  std::vector<std::string> lines;
  const std::string all = strip(text);
  for (size_t at = 0;;) {
    const size_t nl = all.find('\n', at);
    lines.push_back(all.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  std::string last = lines.back();
  lines.pop_back();
  if (find_params(last).size() < 3) {
    lines.push_back(last);
    last.clear();
  }
  std::string prompt, negative;
  bool done_with_prompt = false;
  for (std::string line : lines) {
    line = strip(line);
    if (line.rfind("Negative prompt:", 0) == 0) {
      done_with_prompt = true;
      line = strip(line.substr(16));
    }
    std::string& into = done_with_prompt ? negative : prompt;
    into += (into.empty() ? "" : "\n") + line;
  }
  res["Prompt"] = prompt;
  res["Negative prompt"] = negative;
  for (const auto& [key, raw] : find_params(last)) {
    const std::string value = unquote(raw);
    std::string w, h;
    if (image_size(value, w, h)) {
      res[key + "-1"] = w;
      res[key + "-2"] = h;
    } else {
      res[key] = value;
    }
  }
  // Its defaults for what the text leaves out (1.10), in its order.
  const auto fallback = [&res](const char* key, json value) {
    if (!res.contains(key)) res[key] = std::move(value);
  };
  fallback("Clip skip", "1");
  if (!res.contains("Hires resize-1")) {
    res["Hires resize-1"] = 0;
    res["Hires resize-2"] = 0;
  }
  fallback("Hires sampler", "Use same sampler");
  fallback("Hires checkpoint", "Use same checkpoint");
  fallback("Hires prompt", "");
  fallback("Hires negative prompt", "");
  fallback("Mask mode", "Inpaint masked");
  fallback("Masked content", "original");
  fallback("Inpaint area", "Whole picture");
  fallback("Masked area padding", 32);
  fallback("RNG", "GPU");
  fallback("Schedule type", "Automatic");
  fallback("Schedule max sigma", 0);
  fallback("Schedule min sigma", 0);
  fallback("Schedule rho", 0);
  fallback("VAE Encoder", "Full");
  fallback("VAE Decoder", "Full");
  fallback("FP8 weight", "Disable");
  return res;
}

}  // namespace sdxl::server

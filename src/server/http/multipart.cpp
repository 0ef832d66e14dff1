#include "server/http/multipart.h"

#include <algorithm>
#include <cctype>

#include "server/http/request_fields.h"

namespace sdxl::server {
namespace {

[[noreturn]] void bad_form(const std::string& why) { throw RequestError(400, "", "multipart/form-data body: " + why); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The parameter `key` of a header value ('form-data; name="image"; filename="a.png"'): quoted
// (backslash escapes) or a bare token. False when it has none.
bool parameter(std::string_view value, const std::string& key, std::string& out) {
  size_t i = value.find(';');
  while (i != std::string_view::npos && i < value.size()) {
    ++i;  // past ';'
    const size_t eq = value.find('=', i);
    if (eq == std::string_view::npos) return false;
    const std::string name = lower(trim(value.substr(i, eq - i)));
    size_t j = eq + 1;
    while (j < value.size() && (value[j] == ' ' || value[j] == '\t')) ++j;
    std::string parsed;
    if (j < value.size() && value[j] == '"') {
      for (++j; j < value.size() && value[j] != '"'; ++j) {
        if (value[j] == '\\' && j + 1 < value.size()) ++j;
        parsed += value[j];
      }
      if (j >= value.size()) bad_form("an unterminated quoted parameter");
      ++j;  // past the closing quote
      i = value.find(';', j);
    } else {
      const size_t end = value.find(';', j);
      parsed = std::string(trim(value.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)));
      i = end;
    }
    if (name == key) {
      out = parsed;
      return true;
    }
  }
  return false;
}

}  // namespace

bool is_multipart_form(const std::string& content_type) {
  return lower(trim(content_type)).rfind("multipart/form-data", 0) == 0;
}

std::vector<FormPart> parse_multipart_form(std::string_view body, const std::string& content_type, size_t max_parts) {
  if (!is_multipart_form(content_type)) bad_form("the Content-Type is not multipart/form-data");
  std::string boundary;
  if (!parameter(content_type, "boundary", boundary) || boundary.empty() || boundary.size() > 70)
    bad_form("the Content-Type has no boundary (1 to 70 characters)");
  const std::string delimiter = "--" + boundary;
  std::vector<FormPart> parts;
  size_t at = body.find(delimiter);
  if (at == std::string_view::npos) bad_form("no boundary line");
  while (true) {
    at += delimiter.size();
    if (body.substr(at, 2) == "--") return parts;  // the closing delimiter
    if (body.substr(at, 2) != "\r\n") bad_form("a boundary line not followed by CRLF");
    at += 2;
    if (parts.size() == max_parts) bad_form("more than " + std::to_string(max_parts) + " parts");
    const size_t head_end = body.find("\r\n\r\n", at);
    if (head_end == std::string_view::npos) bad_form("a part without the blank line after its headers");
    FormPart part;
    bool disposition = false;
    std::string_view head = body.substr(at, head_end - at);
    while (!head.empty()) {
      const size_t eol = std::min(head.find("\r\n"), head.size());
      const std::string_view line = head.substr(0, eol);
      head.remove_prefix(std::min(eol + 2, head.size()));
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) bad_form("a part header without ':'");
      const std::string name = lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        if (lower(value).rfind("form-data", 0) != 0) bad_form("a part whose Content-Disposition is not form-data");
        if (!parameter(value, "name", part.name)) bad_form("a part without a field name");
        parameter(value, "filename", part.filename);
        disposition = true;
      } else if (name == "content-type") {
        part.content_type = std::string(value);
      }
    }
    if (!disposition) bad_form("a part without Content-Disposition");
    const size_t data_start = head_end + 4;
    const size_t next = body.find("\r\n" + delimiter, data_start);
    if (next == std::string_view::npos) bad_form("a part that never ends (no closing boundary)");
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    at = next + 2;
  }
}

}  // namespace sdxl::server

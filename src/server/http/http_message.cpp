#include "server/http/http_message.h"

#include <strings.h>

namespace sdxl::server::http {

std::string Request::get_header_value(const std::string& name) const {
  for (const auto& [key, value] : headers)
    if (strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  return "";
}

bool Request::has_header(const std::string& name) const {
  for (const auto& header : headers)
    if (strcasecmp(header.first.c_str(), name.c_str()) == 0) return true;
  return false;
}

std::string Request::get_param_value(const std::string& name) const {
  const auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

void Response::set_header(const std::string& name, const std::string& value) {
  for (auto& header : headers)
    if (strcasecmp(header.first.c_str(), name.c_str()) == 0) {
      header.second = value;
      return;
    }
  headers.emplace_back(name, value);
}

void Response::set_content(std::string content, const std::string& content_type) {
  body = std::move(content);
  set_header("Content-Type", content_type);
}

}  // namespace sdxl::server::http

#include "server/http/request_guard.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace sdxl::server {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_loopback(const std::string& host) {
  if (host == "localhost" || ends_with(host, ".localhost") || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

bool is_wildcard(const std::string& host) { return host == "0.0.0.0" || host == "::" || host.empty(); }

bool state_changing(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

}  // namespace

std::string host_name_of(const std::string& host_header) {
  std::string h = lower(host_header);
  if (!h.empty() && h.front() == '[') {
    const size_t close = h.find(']');
    return close == std::string::npos ? h : h.substr(1, close - 1);
  }
  const size_t colon = h.rfind(':');
  if (colon != std::string::npos && h.find(':') == colon) h = h.substr(0, colon);  // one colon: a port
  if (!h.empty() && h.back() == '.') h.pop_back();
  return h;
}

RequestGuard::RequestGuard(const ServerOptions& options) : cors_origin_(options.cors_origin) {
  for (const auto& h : options.allowed_hosts) hosts_.push_back(host_name_of(h));
  if (std::find(hosts_.begin(), hosts_.end(), "*") != hosts_.end()) {
    any_host_ = true;
    return;
  }
  const std::string bound = lower(options.host);
  if (!is_loopback(bound) && options.allowed_hosts.empty()) {
    // Reachable from other machines by names we cannot know: they are not checked (auth is
    // what guards such a server; sdxl serve warns when there is none).
    any_host_ = true;
    return;
  }
  if (!is_wildcard(bound)) hosts_.push_back(bound);
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) == 0 && name[0]) hosts_.push_back(lower(name));
}

bool RequestGuard::allowed_host(const std::string& host) const {
  if (any_host_ || is_loopback(host)) return true;
  return std::find(hosts_.begin(), hosts_.end(), host) != hosts_.end();
}

std::optional<RequestError> RequestGuard::refusal(const http::Request& head) const {
  const std::string host_header = head.get_header_value("Host");
  if (!host_header.empty() && !allowed_host(host_name_of(host_header)))
    return RequestError(421, "Host",
                        "Host: '" + host_header + "' is not a name this server answers to (sdxl serve --allowed-hosts NAME to add one)");
  if (!state_changing(head.method) || !head.has_header("Origin")) return std::nullopt;
  const std::string origin = head.get_header_value("Origin");
  if (!cors_origin_.empty() && (cors_origin_ == "*" || origin == cors_origin_)) return std::nullopt;
  const std::string own = lower(origin);
  if (!host_header.empty() && (own == "http://" + lower(host_header) || own == "https://" + lower(host_header))) return std::nullopt;
  return RequestError(403, "Origin",
                      "Origin: a page on '" + origin + "' may not change this server (sdxl serve --cors-origin ORIGIN allows one)");
}

}  // namespace sdxl::server

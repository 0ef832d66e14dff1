// What a browser may not do to a server on this machine (the attacks AUTOMATIC1111 and Ollama
// closed after their CVEs): a page elsewhere may not change anything here (a POST or DELETE
// whose Origin is neither this server nor --cors-origin is refused), and a name that rebinds to
// this machine may not read it (a Host that is not an address or name this server answers to,
// or one of --allowed-hosts, is refused). Clients that are not browsers send no Origin.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/http/http_message.h"
#include "server/http/request_fields.h"
#include "server/server_options.h"

namespace sdxl::server {

class RequestGuard {
 public:
  explicit RequestGuard(const ServerOptions& options);
  // The 403 / 421 to answer, or nothing when the request may go on.
  std::optional<RequestError> refusal(const http::Request& head) const;
  // Whether `host` (a Host header's name, without its port) is one this server answers to.
  bool allowed_host(const std::string& host) const;

 private:
  bool any_host_ = false;  // listening beyond this machine with no --allowed-hosts: names are not checked
  std::vector<std::string> hosts_;
  std::string cors_origin_;
};

// "name:port" / "[v6]:port" -> "name" / "v6", lower case.
std::string host_name_of(const std::string& host_header);

}  // namespace sdxl::server

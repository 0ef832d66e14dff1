// The HTTP/1.1 server under every route: event-driven (Boost.Beast on one network thread), so
// idle, slow and waiting clients cost a socket, never a thread. Each limit is refused clearly:
// too many connections (503), a head too large or with too many fields (431), a body over the
// cap in any transfer encoding (413, as soon as it is known), a head or body that does not
// arrive in time (the connection is closed). Routes run on a small pool of handler threads; a
// response that waits for a job (http::Pending) is followed by one watch thread.
// docs/RELIABILITY.md lists the limits.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "server/http/http_message.h"

namespace sdxl::server::http {

struct Limits {
  size_t max_connections = 256;
  size_t max_body_bytes = 64u << 20;
  size_t max_header_bytes = 16u << 10;  // request line and fields together
  size_t max_header_count = 100;
  // The whole head of a request must arrive within this from the moment the server waits for
  // it (an idle keep-alive connection is closed after it too).
  std::chrono::milliseconds head_timeout{10000};
  // A body must arrive within body_timeout plus one second per MiB it declares; a response is
  // written within write_timeout plus one second per MiB.
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  int max_requests_per_connection = 100;
  int handler_threads = 4;
};

using Handler = std::function<void(const Request&, Response&)>;
// Runs on the network thread once a request's head is in (no body yet): answering `res` and
// returning true ends the request there, before any of its body is read.
using Gate = std::function<bool(const Request& head, Response& res)>;
// Fills in the answer to a refusal the listener makes itself (404, 413, 431, 503, ...) to a
// request for `path` ("" when none was read).
using ErrorPage = std::function<void(int status, const std::string& message, const std::string& path, Response& res)>;
// Blocks until some job changed after `seen` (or `timeout` passed); returns the new count.
using ChangeWait = std::function<uint64_t(uint64_t seen, std::chrono::milliseconds timeout)>;

// Runs once a request is answered (its last byte handed to the socket, or the connection lost
// first: status 499), on the network thread: keep it short.
using Completion = std::function<void(const Request& req, int status, double seconds)>;

class Listener {
 public:
  Listener(Limits limits, ChangeWait wait_for_change, ErrorPage error_page);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // `pattern`: a regular expression the whole path must match (its groups in Request::matches).
  void route(const std::string& method, const std::string& pattern, Handler handler);
  void set_gate(Gate gate);
  void set_completion(Completion completion);

  // The port bound (a free one for 0), or -1 when `host:port` cannot be listened on.
  int bind(const std::string& host, int port);
  // Serves until stop().
  void run();
  // From any thread or a signal handler's thread.
  void stop();
  // Requests read and not yet answered (a synchronous generation waiting for its job included).
  size_t requests_in_flight() const;

  struct Core;

 private:
  std::unique_ptr<Core> core_;
};

}  // namespace sdxl::server::http

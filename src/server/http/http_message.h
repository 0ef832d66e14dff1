// What a route sees of HTTP: one request read whole (head and body, within the listener's
// limits) and the response it fills in. A response is sent at once, or later: `defer` hands the
// listener a Pending that it asks whenever jobs change, holding no thread while it waits (a
// synchronous generation waiting for its job, an event stream following one).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sdxl::server::http {

struct Request {
  std::string method, path, query;  // path without the query; query without the '?'
  std::vector<std::pair<std::string, std::string>> headers;
  std::map<std::string, std::string> params;  // the query, percent-decoded
  std::string body;
  std::vector<std::string> matches;  // the route pattern's whole match and groups
  std::string remote_addr;
  // The client's X-Request-Id when it is a plain token (at most 128 of [A-Za-z0-9._:-]), else a
  // new one: echoed in the answer, carried into the job and every log line about it.
  std::string id;

  // The first header named `name` (any case), "" when absent.
  std::string get_header_value(const std::string& name) const;
  bool has_header(const std::string& name) const;
  std::string get_param_value(const std::string& name) const;
};

class Pending;

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void set_header(const std::string& name, const std::string& value);
  void set_content(std::string content, const std::string& content_type);
  // Answer later: `pending` completes this response (a whole one, or an event stream).
  void defer(std::shared_ptr<Pending> pending) { this->pending = std::move(pending); }
  std::shared_ptr<Pending> pending;
};

// A response still to come. The listener calls poll() on its watch thread after jobs change
// (and at least every few hundred milliseconds), never twice at once.
class Pending {
 public:
  virtual ~Pending() = default;
  // Done: the whole response is ready (complete() fills it in, on a handler thread).
  // Event: `event` holds the next piece of a stream; Done after an event ends the stream.
  enum class Poll { Waiting, Event, Done };
  virtual Poll poll(std::string& event) = 0;
  // For a whole response: fills in `res` once poll() said Done (heavy work belongs here).
  virtual void complete(Response& res) { (void)res; }
  // The client closed its connection first.
  virtual void client_gone() {}
  // An event stream's content type; empty for a whole response.
  virtual std::string stream_type() const { return ""; }
};

}  // namespace sdxl::server::http

#include "server/http/http_listener.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <vector>

#include "server/http/http_pending_watch.h"

namespace sdxl::server::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

struct Route {
  std::string method;
  std::regex pattern;
  Handler handler;
};

std::string percent_decoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> query_params(const std::string& query) {
  std::map<std::string, std::string> params;
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    const size_t end = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, end - start);
    const size_t eq = pair.find('=');
    if (!pair.empty()) params.emplace(percent_decoded(pair.substr(0, eq)), eq == std::string::npos ? "" : percent_decoded(pair.substr(eq + 1)));
    start = end + 1;
  }
  return params;
}

std::chrono::milliseconds per_mib(std::chrono::milliseconds base, size_t bytes) {
  return base + std::chrono::milliseconds(1000 * static_cast<int64_t>(bytes >> 20));
}

// The status line's reason: Beast's table, or a generic one for the codes it lacks (499).
std::string status_line(int status) {
  const auto reason = beast::http::obsolete_reason(static_cast<beast::http::status>(status));
  return "HTTP/1.1 " + std::to_string(status) + " " + (reason == "<unknown-status>" ? std::string("Unknown") : std::string(reason)) + "\r\n";
}

// A whole response: status line, `header_lines`, Content-Length, Connection, body.
std::string serialized(int status, const std::string& header_lines, const std::string& body, bool close) {
  return status_line(status) + header_lines + "Content-Length: " + std::to_string(body.size()) + "\r\n" +
         (close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n") + body;
}

std::string lines_of(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string lines;
  for (const auto& [name, value] : headers) lines += name + ": " + value + "\r\n";
  return lines;
}

// A socket error (the peer left, the deadline closed it) rather than a malformed request.
bool connection_lost(const beast::error_code& ec) {
  return ec && (ec == beast::http::error::end_of_stream || ec == net::error::operation_aborted || ec == net::error::eof ||
                ec.category() == net::error::get_system_category() || ec.category() == net::error::get_misc_category());
}

// The client's id when it is a plain token; else 16 random hex digits (an id to find log lines
// by, not a secret).
std::string request_id_of(const std::string& offered) {
  bool plain = !offered.empty() && offered.size() <= 128;
  for (unsigned char c : offered) plain = plain && (std::isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-');
  if (plain) return offered;
  thread_local std::mt19937_64 random{std::random_device{}()};
  char id[17];
  std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(random()));
  return id;
}

}  // namespace

struct Listener::Core {
  std::atomic<size_t> connections{0};  // first: sessions still count down while the members below go
  std::atomic<size_t> refusing{0};
  std::atomic<size_t> in_flight{0};
  Limits limits;
  ErrorPage error_page;
  Gate gate;
  Completion completion;
  std::vector<Route> routes;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::thread_pool handlers;
  PendingWatch watch;

  Core(Limits l, ChangeWait wait, ErrorPage page)
      : limits(l), error_page(std::move(page)), handlers(static_cast<size_t>(std::max(1, l.handler_threads))), watch(std::move(wait)) {}

  const Route* find_route(Request& req, bool& path_known) const {
    path_known = false;
    for (const auto& r : routes) {
      std::smatch m;
      if (!std::regex_match(req.path, m, r.pattern)) continue;
      path_known = true;
      if (r.method != req.method) continue;
      req.matches.clear();
      for (const auto& group : m) req.matches.push_back(group.str());
      return &r;
    }
    return nullptr;
  }

  void accept();
  void refuse(tcp::socket socket);
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Listener::Core& core, tcp::socket socket) : core_(core), socket_(std::move(socket)), deadline_(core.io) {
    ++core_.connections;
  }
  ~Session() {
    if (counted_) --core_.in_flight;
    --core_.connections;
  }

  void start() { read_head(); }

  // From the watch thread, through the network thread.
  void on_event(std::string event) {
    if (!pending_) return;
    outbox_.push_back(chunk(event));
    flush();
  }
  void on_done() {
    if (!pending_) return;
    if (streaming_) {
      outbox_.push_back("0\r\n\r\n");
      stream_ending_ = true;
      flush();
      return;
    }
    // The whole response is made on a handler thread (it may encode images).
    auto self = shared_from_this();
    auto pending = pending_;
    net::post(core_.handlers, [self, pending] {
      auto res = std::make_shared<Response>();
      res->headers = self->deferred_headers_;
      try {
        pending->complete(*res);
      } catch (const std::exception& e) {
        *res = Response();
        self->core_.error_page(500, e.what(), self->request_.path, *res);
      }
      net::post(self->core_.io, [self, res] {
        self->pending_.reset();
        self->write(*res);
      });
    });
  }

 private:
  void arm(std::chrono::milliseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->close();
    });
  }
  void disarm() { deadline_.cancel(); }
  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    deadline_.cancel();
  }

  // Closing with a request body still arriving would reset the connection, and the client might
  // lose the answer it is about to read: the rest is read and dropped for a moment first.
  void linger() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    arm(std::chrono::seconds(2));
    drain(16u << 20);
  }
  void drain(size_t budget) {
    socket_.async_read_some(net::buffer(peek_), [self = shared_from_this(), budget](beast::error_code ec, size_t n) {
      if (ec || n >= budget) return self->close();
      self->drain(budget - n);
    });
  }

  void read_head() {
    if (served_ >= core_.limits.max_requests_per_connection) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(core_.limits.max_header_bytes));
    parser_->body_limit(core_.limits.max_body_bytes);
    arm(core_.limits.head_timeout);
    beast::http::async_read_header(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_head(ec);
    });
  }

  void refuse(int status, const std::string& message) {
    Response res;
    core_.error_page(status, message, request_.path, res);
    must_close_ = true;
    write(res);
  }

  void on_head(beast::error_code ec) {
    started_ = std::chrono::steady_clock::now();
    reported_ = false;
    request_.id.clear();
    {  // the path, for a refusal's shape (what the parser has of it: a head past a limit may be partial)
      const std::string target(parser_->get().target());
      request_.path = target.substr(0, target.find('?'));
    }
    if (ec == beast::http::error::body_limit) return refuse(413, "the request body is larger than the limit (--max-body-mb)");
    if (ec == beast::http::error::header_limit) return refuse(431, "the request head is larger than " + std::to_string(core_.limits.max_header_bytes) + " bytes");
    if (connection_lost(ec)) return close();  // gone, or too slow (the deadline closed it)
    if (ec) return refuse(400, std::string("not an HTTP/1.1 request: ") + ec.message());
    disarm();
    const auto& head = parser_->get();
    request_ = Request();
    gate_headers_.clear();
    request_.method = std::string(head.method_string());
    const std::string target(head.target());
    const size_t question = target.find('?');
    request_.path = target.substr(0, question);
    request_.query = question == std::string::npos ? "" : target.substr(question + 1);
    request_.params = query_params(request_.query);
    for (const auto& field : head) request_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    request_.id = request_id_of(request_.get_header_value("X-Request-Id"));
    if (!counted_) ++core_.in_flight;
    counted_ = true;
    beast::error_code endpoint_ec;
    const auto remote = socket_.remote_endpoint(endpoint_ec);
    if (!endpoint_ec) request_.remote_addr = remote.address().to_string();
    keep_alive_ = head.keep_alive();
    const bool has_body = !parser_->is_done();
    must_close_ = false;
    if (request_.headers.size() > core_.limits.max_header_count)
      return refuse(431, "the request has more than " + std::to_string(core_.limits.max_header_count) + " header fields");
    const auto length = parser_->content_length();
    if (length && *length > core_.limits.max_body_bytes)
      return refuse(413, "the request body is larger than the limit (--max-body-mb)");
    Response early;
    if (core_.gate && core_.gate(request_, early)) {
      must_close_ = has_body;  // its body is not read: the connection cannot carry another request
      return write(early);
    }
    gate_headers_ = std::move(early.headers);  // (CORS) for whatever answer comes
    bool path_known = false;
    route_ = core_.find_route(request_, path_known);
    if (!route_) {
      must_close_ = has_body;
      Response res;
      core_.error_page(path_known ? 405 : 404, path_known ? "this route does not take " + request_.method : "no such route",
                       request_.path, res);
      return write(res);
    }
    if (!has_body) return dispatch();
    if (beast::iequals(head[beast::http::field::expect], "100-continue")) {
      outgoing_ = "HTTP/1.1 100 Continue\r\n\r\n";
      arm(core_.limits.write_timeout);
      return net::async_write(socket_, net::buffer(outgoing_), [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    const auto length = parser_->content_length();
    arm(per_mib(core_.limits.body_timeout, length ? static_cast<size_t>(*length) : core_.limits.max_body_bytes));
    beast::http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->disarm();
      if (ec == beast::http::error::body_limit) return self->refuse(413, "the request body is larger than the limit (--max-body-mb)");
      if (connection_lost(ec)) return self->close();
      if (ec) return self->refuse(400, std::string("the request body is malformed: ") + ec.message());
      self->request_.body = std::move(self->parser_->get().body());
      self->dispatch();
    });
  }

  void dispatch() {
    auto self = shared_from_this();
    net::post(core_.handlers, [self] {
      auto res = std::make_shared<Response>();
      try {
        self->route_->handler(self->request_, *res);
      } catch (const std::exception& e) {
        *res = Response();
        self->core_.error_page(500, e.what(), self->request_.path, *res);
      }
      net::post(self->core_.io, [self, res] { self->respond(*res); });
    });
  }

  void respond(Response& res) {
    if (!res.pending) return write(res);
    pending_ = std::move(res.pending);
    deferred_headers_ = res.headers;  // set before the handler deferred: kept for the answer
    streaming_ = !pending_->stream_type().empty();
    if (streaming_) {
      ++served_;
      std::string head = status_line(200) + "Content-Type: " + pending_->stream_type() + "\r\nCache-Control: no-cache\r\n" + header_lines(res);
      head += "Transfer-Encoding: chunked\r\n\r\n";
      outbox_.push_back(std::move(head));
      flush();
    }
    watch_peer();
    core_.watch.add(pending_, [weak = weak_from_this(), &io = core_.io](bool done, std::string event) {
      net::post(io, [weak, done, event = std::move(event)]() mutable {
        auto self = weak.lock();
        if (!self) return;
        if (!event.empty()) self->on_event(std::move(event));
        if (done) self->on_done();
      });
    });
  }

  // While a response waits, a read that ends tells that the client left.
  void watch_peer() {
    peer_read_pending_ = true;
    socket_.async_read_some(net::buffer(peek_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->peer_read_pending_ = false;
      if (!self->pending_) {  // answered meanwhile: what came is the next request's
        if (n) self->buffer_.commit(net::buffer_copy(self->buffer_.prepare(n), net::buffer(self->peek_, n)));
        if (self->head_after_peer_read_) {
          self->head_after_peer_read_ = false;
          self->read_head();
        }
        return;
      }
      if (ec) return self->abandon_pending();
      // A pipelined request: kept for later; the peer is not watched any further.
      self->buffer_.commit(net::buffer_copy(self->buffer_.prepare(n), net::buffer(self->peek_, n)));
    });
  }

  // The client left (or could not be written to) while its answer waited: its job is told, and
  // the connection closed.
  void abandon_pending() {
    completed(499);  // nginx's "client closed request"
    if (pending_) {
      auto pending = std::move(pending_);
      pending_.reset();
      core_.watch.remove(pending);
      net::post(core_.handlers, [pending] { pending->client_gone(); });
    }
    close();
  }

  static std::string chunk(const std::string& data) {
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return size + data + "\r\n";
  }

  void flush() {
    if (writing_ || outbox_.empty()) return;
    writing_ = true;
    outgoing_ = std::move(outbox_.front());
    outbox_.erase(outbox_.begin());
    arm(per_mib(core_.limits.write_timeout, outgoing_.size()));
    net::async_write(socket_, net::buffer(outgoing_), [self = shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      self->disarm();
      if (ec) return self->abandon_pending();
      if (!self->outbox_.empty()) return self->flush();
      if (self->stream_ending_) {
        self->completed(200);
        self->stream_ending_ = false;
        self->streaming_ = false;
        self->pending_.reset();
        self->after_response();
      }
    });
  }

  std::string header_lines(const Response& res) {
    if (request_.id.empty()) request_.id = request_id_of("");
    std::string lines = lines_of(res.headers) + "X-Request-Id: " + request_.id + "\r\n";
    for (const auto& [name, value] : gate_headers_) {
      bool set = false;
      for (const auto& header : res.headers) set = set || beast::iequals(header.first, name);
      if (!set) lines += name + ": " + value + "\r\n";
    }
    return lines;
  }

  void write(const Response& res) {
    ++served_;
    const bool close_after = must_close_ || !keep_alive_ || served_ >= core_.limits.max_requests_per_connection;
    outgoing_ = serialized(res.status, header_lines(res), res.body, close_after);
    arm(per_mib(core_.limits.write_timeout, outgoing_.size()));
    net::async_write(socket_, net::buffer(outgoing_), [self = shared_from_this(), close_after, status = res.status](beast::error_code ec, size_t) {
      self->disarm();
      self->completed(ec ? 499 : status);
      if (ec) return self->close();
      if (close_after) return self->linger();
      self->after_response();
    });
  }

  // Once per request: the listener's completion (metrics, the request's log line).
  void completed(int status) {
    if (counted_) --core_.in_flight;
    counted_ = false;
    if (reported_ || request_.id.empty()) return;
    reported_ = true;
    if (core_.completion)
      core_.completion(request_, status, std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  }

  void after_response() {
    if (!keep_alive_) return close();
    if (!peer_read_pending_) return read_head();
    // Two reads may not wait on one socket: the watch's read is cancelled, and its handler
    // starts the next request's.
    head_after_peer_read_ = true;
    beast::error_code ignored;
    socket_.cancel(ignored);
  }

  Listener::Core& core_;
  tcp::socket socket_;
  net::steady_timer deadline_;
  beast::flat_buffer buffer_;
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  Request request_;
  std::vector<std::pair<std::string, std::string>> gate_headers_;
  const Route* route_ = nullptr;
  std::chrono::steady_clock::time_point started_;
  bool reported_ = false, counted_ = false;
  bool keep_alive_ = true, must_close_ = false;
  int served_ = 0;
  std::shared_ptr<Pending> pending_;
  std::vector<std::pair<std::string, std::string>> deferred_headers_;
  bool streaming_ = false, stream_ending_ = false, writing_ = false;
  bool peer_read_pending_ = false, head_after_peer_read_ = false;
  std::vector<std::string> outbox_;
  std::string outgoing_;
  char peek_[4096];
};

}  // namespace

void Listener::Core::accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;
    if (!ec) {
      if (connections.load() >= limits.max_connections) refuse(std::move(socket));
      else std::make_shared<Session>(*this, std::move(socket))->start();
    }
    accept();
  });
}

// Past the connection cap: a short 503 and the connection closed, without reading the request.
void Listener::Core::refuse(tcp::socket socket) {
  if (refusing.load() >= 64) return;  // a flood: dropped without a word (the socket closes here)
  Response res;
  error_page(503, "the server has " + std::to_string(limits.max_connections) + " connections open (--max-connections); try again shortly", "",
             res);
  auto state = std::make_shared<std::pair<tcp::socket, std::string>>(std::move(socket),
                                                                    serialized(503, lines_of(res.headers), res.body, true));
  auto timer = std::make_shared<net::steady_timer>(io, std::chrono::seconds(2));
  ++refusing;
  timer->async_wait([state](beast::error_code ec) {
    if (ec) return;
    beast::error_code ignored;
    state->first.close(ignored);
  });
  net::async_write(state->first, net::buffer(state->second), [this, state, timer](beast::error_code, size_t) {
    --refusing;
    timer->cancel();
    beast::error_code ignored;
    state->first.shutdown(tcp::socket::shutdown_both, ignored);
    state->first.close(ignored);
  });
}

Listener::Listener(Limits limits, ChangeWait wait_for_change, ErrorPage error_page)
    : core_(std::make_unique<Core>(limits, std::move(wait_for_change), std::move(error_page))) {}

Listener::~Listener() {
  stop();
  core_->watch.stop();
  core_->handlers.join();
}

void Listener::route(const std::string& method, const std::string& pattern, Handler handler) {
  core_->routes.push_back({method, std::regex(pattern), std::move(handler)});
}

size_t Listener::requests_in_flight() const { return core_->in_flight.load(); }

void Listener::set_gate(Gate gate) { core_->gate = std::move(gate); }

void Listener::set_completion(Completion completion) { core_->completion = std::move(completion); }

int Listener::bind(const std::string& host, int port) {
  beast::error_code ec;
  tcp::resolver resolver(core_->io);
  const auto endpoints = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) return -1;
  const tcp::endpoint endpoint = *endpoints.begin();
  core_->acceptor.open(endpoint.protocol(), ec);
  if (ec) return -1;
  core_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  core_->acceptor.bind(endpoint, ec);
  if (ec) return -1;
  core_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return -1;
  return core_->acceptor.local_endpoint().port();
}

void Listener::run() {
  core_->accept();
  core_->io.run();
}

void Listener::stop() {
  net::post(core_->io, [core = core_.get()] {
    beast::error_code ignored;
    core->acceptor.close(ignored);
    core->io.stop();
  });
}

}  // namespace sdxl::server::http

// `sdxl serve` against hostile clients, over raw sockets where the attack is in the protocol:
// deep JSON, slow and idle connections, event streams and synchronous calls holding on, chunked
// bodies over the cap, cross-site requests and rebinding names, guessable ids. Each test fails
// on a server that crashes, freezes or buffers what it should refuse.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "cli/cli_runner.h"
#include "io/png.h"
#include "server/server_process.h"
#include "server/shared_server.h"
#include "test_support.h"

namespace sdxl {
namespace {

using nlohmann::json;
using test::ServerProcess;
using Clock = std::chrono::steady_clock;

fs::path tiny() { return test::reference_dir() / "models/tiny-sdxl-base"; }

// A client socket to the server; every read waits at most `timeout`.
class Socket {
 public:
  explicit Socket(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool send_all(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }
  // What arrives until the peer closes, `stop` is found, or `timeout` passes.
  std::string read(std::chrono::milliseconds timeout, const std::string& stop = "") {
    std::string out;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const auto left = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) break;  // looked at least once
      char buffer[65536];
      const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      out.append(buffer, static_cast<size_t>(n));
      if (!stop.empty() && out.find(stop) != std::string::npos) break;
    }
    return out;
  }
  bool closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool closed_ = false;
};

int status_of(const std::string& response) {
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

// A whole request over a fresh connection; the answer's status (0: none) and text.
int request(int port, const std::string& text, std::string* answer = nullptr,
            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  Socket s(port);
  if (!s.ok() || !s.send_all(text)) return 0;
  const std::string reply = s.read(timeout, "\r\n\r\n");
  std::string rest = reply;
  // Content-Length bodies: read the rest.
  std::smatch m;
  const std::regex length("Content-Length: ([0-9]+)", std::regex::icase);
  if (std::regex_search(reply, m, length)) {
    const size_t want = std::stoul(m[1]) + reply.find("\r\n\r\n") + 4;
    while (rest.size() < want && !s.closed()) {
      const std::string more = s.read(timeout);
      if (more.empty()) break;
      rest += more;
    }
  }
  if (answer) *answer = rest;
  return status_of(rest);
}

std::string post_text(const std::string& path, const std::string& body, const std::string& extra_headers = "",
                      const std::string& type = "application/json") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + type + "\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string get_text(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + "Connection: close\r\n\r\n";
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(4096, '\n');
  }
  return -1;
}

class Hostile : public test::SharedServer<Hostile> {
 public:
  static std::vector<std::string> server_args() {
    return {"-m", tiny().string(), "--lora-dir", (test::reference_dir() / "models/loras").string(),
            "--max-body-mb", "1", "--max-connections", "120", "--queue-size", "32"};
  }

 protected:
  int port() const { return server_->port(); }
  // The server still answers a plain request.
  void expect_serving() const {
    EXPECT_TRUE(server_->alive());
    EXPECT_EQ(request(port(), get_text("/sdapi/v1/samplers")), 200);
  }
};

// Item 1: a body nested 70,000 deep (140 KB) used to parse, be echoed and overflow the stack in
// dump(); it is refused at parse time, on every route that reads JSON.
TEST_F(Hostile, DeepJsonIsRefusedNotEchoed) {
  const size_t depth = 70000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  for (const char* path : {"/sdapi/v1/txt2img", "/v1/jobs", "/v1/images/generations", "/sdapi/v1/options"}) {
    SCOPED_TRACE(path);
    std::string answer;
    const std::string body = R"({"prompt": "x", "override_settings": {"a": )" + nested + "}}";
    EXPECT_EQ(request(port(), post_text(path, body), &answer), 400) << answer.substr(0, 300);
    EXPECT_NE(answer.find("nests"), std::string::npos) << answer.substr(0, 300);
  }
  // A shallow one still works (A1111's fields nest a few levels).
  std::string answer;
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/txt2img",
                                      R"({"prompt": "x", "steps": 1, "width": 64, "height": 64, "comments": {"a": [[{"b": [1]}]]}})"),
                    &answer),
            200)
      << answer.substr(0, 300);
  expect_serving();
}

// A kept-alive connection carries a synchronous generation and then another request (clients
// with a session, such as webuiapi's, do): the socket watched while the job ran is read again.
TEST_F(Hostile, KeepAliveAfterASynchronousCall) {
  Socket s(port());
  const std::string body = R"({"prompt": "x", "steps": 1, "width": 64, "height": 64})";
  ASSERT_TRUE(s.send_all("POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n\r\n" + body));
  std::string first = s.read(std::chrono::seconds(30), "\r\n\r\n");
  ASSERT_EQ(status_of(first), 200) << first.substr(0, 200);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(first, m, std::regex("Content-Length: ([0-9]+)")));
  const size_t want = std::stoul(m[1]) + first.find("\r\n\r\n") + 4;
  while (first.size() < want && !s.closed()) first += s.read(std::chrono::seconds(10));
  ASSERT_EQ(first.size(), want);
  ASSERT_TRUE(s.send_all("GET /sdapi/v1/samplers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  const std::string second = s.read(std::chrono::seconds(5), "\r\n\r\n");
  EXPECT_EQ(status_of(second), 200) << second.substr(0, 200);
}

// Item 11: a NUL inside a JSON string would cut the prompt short at the C API: refused.
TEST_F(Hostile, NulInAStringIsRefused) {
  std::string answer;
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/txt2img", R"({"prompt": "a cat\u0000 and then the rest", "steps": 1})"), &answer), 400);
  EXPECT_NE(answer.find("NUL"), std::string::npos) << answer;
}

// Item 2, the "done when": 50 slowloris connections (a byte of head now and then) and 10 event
// streams open on a long job, and a probe is still answered within a second, every time; the
// server's memory stays flat.
TEST_F(Hostile, SlowClientsAndStreamsStarveNobody) {
  std::string answer;
  ASSERT_EQ(request(port(), post_text("/v1/jobs", R"({"prompt": "long", "num_inference_steps": 1000, "width": 64, "height": 64})"), &answer), 202)
      << answer;
  const std::string id = json::parse(answer.substr(answer.find("\r\n\r\n") + 4))["id"];
  const long rss_before = rss_kib(server_->pid());
  std::vector<std::unique_ptr<Socket>> slow, streams;
  for (int i = 0; i < 50; ++i) {
    slow.push_back(std::make_unique<Socket>(port()));
    ASSERT_TRUE(slow.back()->ok());
    slow.back()->send_all("GET /sdapi/v1/samplers HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  }
  for (int i = 0; i < 10; ++i) {
    streams.push_back(std::make_unique<Socket>(port()));
    ASSERT_TRUE(streams.back()->send_all("GET /v1/jobs/" + id + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    EXPECT_NE(streams.back()->read(std::chrono::seconds(5), "event: ").find("event: "), std::string::npos);
  }
  double worst = 0;
  for (int probe = 0; probe < 8; ++probe) {
    for (auto& s : slow) s->send_all("X");  // keep each head growing, never finished
    const auto start = Clock::now();
    EXPECT_EQ(request(port(), get_text("/sdapi/v1/progress"), nullptr, std::chrono::seconds(5)), 200);
    EXPECT_EQ(request(port(), post_text("/sdapi/v1/interrupt", "{}"), nullptr, std::chrono::seconds(5)), 200);
    worst = std::max(worst, std::chrono::duration<double>(Clock::now() - start).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_LT(worst, 1.0) << "a probe waited " << worst << " s";
  // The interrupt ended the long job: every stream got its end.
  for (auto& s : streams) EXPECT_NE(s->read(std::chrono::seconds(10), "event: done").find("event: done"), std::string::npos);
  const long rss_after = rss_kib(server_->pid());
  EXPECT_LT(rss_after - rss_before, 64 * 1024) << "RSS grew from " << rss_before << " to " << rss_after << " KiB";
  expect_serving();
}

// Item 2: a head that never ends is cut off at the head deadline (10 s) rather than renewed by
// every byte.
TEST_F(Hostile, ASlowHeadIsCutOff) {
  Socket s(port());
  ASSERT_TRUE(s.send_all("GET /sdapi/v1/samplers HTTP/1.1\r\n"));
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(20) && !s.closed()) {
    s.send_all("X-A: b\r\n");
    s.read(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(s.closed());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 13.0);
}

// Item 2: past --max-connections a client gets a clear 503 at once, and the server serves
// again when they go.
TEST_F(Hostile, ConnectionsPastTheCapAreRefusedClearly) {
  std::vector<std::unique_ptr<Socket>> idle;
  for (int i = 0; i < 120; ++i) {
    idle.push_back(std::make_unique<Socket>(port()));
    ASSERT_TRUE(idle.back()->ok());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string answer;
  EXPECT_EQ(request(port(), get_text("/sdapi/v1/samplers"), &answer, std::chrono::seconds(5)), 503);
  EXPECT_NE(answer.find("--max-connections"), std::string::npos) << answer;
  idle.clear();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  expect_serving();
}

// Item 3: a chunked body over --max-body-mb is answered 413 while it is still arriving, and the
// server does not buffer it.
TEST_F(Hostile, ChunkedBodiesObeyTheCap) {
  Socket s(port());
  ASSERT_TRUE(s.send_all("POST /sdapi/v1/txt2img HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(64 * 1024, ' ');
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  std::string answer;
  size_t sent = 0;
  const long rss_before = rss_kib(server_->pid());
  while (sent < (64u << 20) && answer.empty()) {
    if (!s.send_all(size + chunk + "\r\n")) break;
    sent += chunk.size();
    answer = s.read(std::chrono::milliseconds(1));
  }
  if (answer.empty()) answer = s.read(std::chrono::seconds(5), "\r\n\r\n");
  EXPECT_EQ(status_of(answer), 413) << answer;
  // What loopback's socket buffers hold (several MB) may be sent before the answer is seen.
  EXPECT_LT(sent, 16u << 20) << "the answer came only after " << sent << " bytes";
  EXPECT_LT(rss_kib(server_->pid()) - rss_before, 16 * 1024);
  // A declared length over the cap is refused before any of it is read.
  EXPECT_EQ(request(port(), "POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 400000000\r\n\r\n"), 413);
  expect_serving();
}

// Item 2: heads too large or with too many fields are refused (431), not buffered.
TEST_F(Hostile, OversizedHeadsAreRefused) {
  EXPECT_EQ(request(port(), "GET /sdapi/v1/samplers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n"), 431);
  std::string many;
  for (int i = 0; i < 500; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  EXPECT_EQ(request(port(), "GET /sdapi/v1/samplers HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + "\r\n"), 431);
  expect_serving();
}

// Item 6: a page elsewhere cannot change this server, a rebinding name cannot read it, and curl
// -d (form content type, any size) still works.
TEST_F(Hostile, CrossSiteRequestsAndRebindingNamesAreRefused) {
  std::string answer;
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/interrupt", "{}", "Origin: http://evil.example\r\n", "text/plain"), &answer), 403);
  EXPECT_NE(answer.find("Origin"), std::string::npos) << answer;
  EXPECT_EQ(request(port(), post_text("/v1/jobs", R"({"prompt": "x"})", "Origin: null\r\n"), &answer), 403);
  EXPECT_EQ(request(port(), "GET /sdapi/v1/options HTTP/1.1\r\nHost: rebind.evil.example:7860\r\nConnection: close\r\n\r\n", &answer), 421);
  EXPECT_NE(answer.find("--allowed-hosts"), std::string::npos) << answer;
  // The server's own page (same origin) and clients without Origin go on.
  const std::string own = "Origin: http://127.0.0.1:" + std::to_string(port()) + "\r\n";
  EXPECT_EQ(request(port(), "POST /sdapi/v1/interrupt HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port()) + "\r\n" + own +
                                "Content-Length: 2\r\nConnection: close\r\n\r\n{}"),
            200);
  EXPECT_EQ(request(port(), "GET /sdapi/v1/options HTTP/1.1\r\nHost: localhost:1234\r\nConnection: close\r\n\r\n"), 200);
  const std::string form_json =
      json{{"prompt", "a cat"}, {"steps", 1}, {"width", 64}, {"height", 64}, {"comment", std::string(20000, 'a')}}.dump();
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/txt2img", form_json, "", "application/x-www-form-urlencoded"), &answer), 200)
      << answer.substr(0, 300);
}

// Item 7: ids are 128 random bits, and /progress shows none to a server anyone may call.
TEST_F(Hostile, JobIdsAreUnguessableAndPrivate) {
  std::set<std::string> ids;
  for (int i = 0; i < 12; ++i) {  // fewer than --queue-size
    std::string answer;
    ASSERT_EQ(request(port(), post_text("/v1/jobs", R"({"prompt": "x", "num_inference_steps": 1, "width": 64, "height": 64})"), &answer), 202);
    const std::string id = json::parse(answer.substr(answer.find("\r\n\r\n") + 4))["id"];
    EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{32}"))) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 12u);
  std::string answer;
  ASSERT_EQ(request(port(), post_text("/v1/jobs", R"({"prompt": "x", "num_inference_steps": 300, "width": 64, "height": 64})"), &answer), 202);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(request(port(), get_text("/sdapi/v1/progress"), &answer), 200);
    const json progress = json::parse(answer.substr(answer.find("\r\n\r\n") + 4));
    EXPECT_EQ(progress["state"]["job"], "") << "another client's job id was shown";
    if (progress["state"]["job_count"] == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  request(port(), post_text("/sdapi/v1/interrupt", "{}"));
}

std::string base64(const std::string& bytes) {
  static const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int k = 3; k >= 0; --k) out += chars[(v >> (6 * k)) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= uint8_t(bytes[i + 1]) << 8;
    out += chars[(v >> 18) & 63];
    out += chars[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? chars[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// A gray PNG of side x side, all zeros: tiny on the wire, side^2 bytes decoded.
std::string zeros_png(int side) {
  io::Image8 image{side, side, 1, std::vector<uint8_t>(static_cast<size_t>(side) * static_cast<size_t>(side), 0)};
  const auto bytes = io::encode_png(image);
  return std::string(bytes.begin(), bytes.end());
}

// Item 4: an upload of more pixels than the request can use is refused from its header (a
// 8192x8192 PNG is ~64 KB on the wire, 64 MB decoded), and so is a JPEG of many scans.
TEST_F(Hostile, DecodingBombsAreRefusedCheaply) {
  const long rss_before = rss_kib(server_->pid());
  const std::string big = base64(zeros_png(8192));
  std::string answer;
  const auto start = Clock::now();
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/img2img", json{{"init_images", {big}}, {"width", 64}, {"height", 64}, {"steps", 2}}.dump()),
                    &answer),
            422)
      << answer.substr(0, 400);
  EXPECT_NE(answer.find("megapixels"), std::string::npos) << answer.substr(0, 400);
  EXPECT_NE(answer.find("init_images"), std::string::npos) << answer.substr(0, 400);
  // Scans are counted while decoding, which only the job does: the synchronous call gets its 422.
  const std::string scans = base64(test::read_file(fs::path(SDXL_SOURCE_DIR) / "fuzz/seeds/image/many_scans_1024.jpg"));
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/img2img", json{{"init_images", {scans}}, {"width", 64}, {"height", 64}, {"steps", 2}}.dump()),
                    &answer),
            422)
      << answer.substr(0, 400);
  EXPECT_NE(answer.find("progressive scans"), std::string::npos) << answer.substr(0, 400);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 2.0);
  EXPECT_LT(rss_kib(server_->pid()) - rss_before, 48 * 1024);
  expect_serving();
}

// Item 4 and 5c: jobs waiting in the queue hold their uploads compressed (the submit-time check
// decodes nothing: blank stand-ins of the size asked for), and finished ones hold none: ten
// 16-megapixel uploads queued behind a long job cost megabytes, not 10 x 16 MB decoded.
TEST_F(Hostile, QueuedJobsKeepUploadsCompressed) {
  std::string answer;
  // Long enough (1000 steps at 256x256) that none of the ten starts while they are counted.
  ASSERT_EQ(request(port(), post_text("/v1/jobs", R"({"prompt": "long", "num_inference_steps": 1000, "width": 256, "height": 256})"), &answer), 202);
  const std::string upload =
      json{{"prompt", "x"}, {"image", base64(zeros_png(4096))}, {"width", 64}, {"height", 64}, {"num_inference_steps", 4}}.dump();
  const long rss_before = rss_kib(server_->pid());
  const auto start = Clock::now();
  for (int i = 0; i < 10; ++i) ASSERT_EQ(request(port(), post_text("/v1/jobs", upload), &answer), 202) << answer.substr(0, 300);
  const long rss_after = rss_kib(server_->pid());
  EXPECT_LT(rss_after - rss_before, 32 * 1024) << "RSS grew from " << rss_before << " to " << rss_after << " KiB";
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 2.0) << "submitting decoded the uploads";
  request(port(), post_text("/sdapi/v1/interrupt", "{}"));
}

// Item 5: a tiny request may not ask for gigabytes: repeated <lora:...> tags are one LoRA, tag
// weights are bounded as the list's are, and images per call are bounded in every API.
TEST_F(Hostile, TinyRequestsCannotAskForGigabytes) {
  std::string tags;
  for (int i = 0; i < 2000; ++i) tags += "<lora:tiny-sdxl-base-kohya-attn:0.001>";
  std::string answer;
  const long rss_before = rss_kib(server_->pid());
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/txt2img", json{{"prompt", "a cat " + tags}, {"steps", 1}, {"width", 64}, {"height", 64}}.dump()),
                    &answer),
            200)
      << answer.substr(0, 400);
  EXPECT_LT(rss_kib(server_->pid()) - rss_before, 200 * 1024);
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/txt2img", R"({"prompt": "<lora:tiny-sdxl-base-kohya-attn:11>", "steps": 1})"), &answer), 422);
  EXPECT_NE(answer.find("outside [-10, 10]"), std::string::npos) << answer;
  json prompts = json::array();
  for (int i = 0; i < 64; ++i) prompts.push_back("p");
  EXPECT_EQ(request(port(), post_text("/v1/jobs", json{{"prompt", prompts}, {"num_images_per_prompt", 64}}.dump()), &answer), 422);
  EXPECT_NE(answer.find("num_images_per_prompt"), std::string::npos) << answer;
  EXPECT_EQ(request(port(), post_text("/sdapi/v1/txt2img", R"({"prompt": "x", "n_iter": 100, "batch_size": 64})"), &answer), 422);
  EXPECT_NE(answer.find("n_iter"), std::string::npos) << answer;
}

// Item 5a: the tags count into the 64-LoRA cap (one LoRA per file).
// An OpenAI stream a client walks away from cancels its job, as a synchronous call's does: the
// next request is not stuck behind a thousand steps nobody will read.
TEST(HostileStreams, AClosedImageStreamCancelsItsJob) {
  SDXL_REQUIRE_REFERENCE();
  ServerProcess s({"-m", tiny().string()});
  ASSERT_GT(s.port(), 0);
  {
    Socket client(s.port());
    ASSERT_TRUE(client.send_all(post_text("/v1/images/generations",
                                          json{{"prompt", "slow"}, {"size", "1024x1024"}, {"stream", true}, {"partial_images", 3}}.dump())));
    const std::string head = client.read(std::chrono::seconds(30), "\r\n\r\n");
    ASSERT_EQ(status_of(head), 200) << head;
    EXPECT_NE(head.find("text/event-stream"), std::string::npos) << head;
    client.read(std::chrono::milliseconds(500));  // the job is running
  }  // closed mid-stream
  // AUTOMATIC1111's /progress shows the running job: it goes idle soon, long before 30 steps at
  // 1024x1024 would end.
  bool stopped = false;
  const auto closed = Clock::now();
  while (!stopped && Clock::now() - closed < std::chrono::seconds(10)) {
    std::string answer;
    request(s.port(), "GET /sdapi/v1/progress HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &answer);
    stopped = answer.find("\"job_count\":0") != std::string::npos;
    if (!stopped) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(stopped) << "the abandoned stream's job still runs";
}

TEST(HostileLoras, TagsCountIntoTheCap) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  for (int i = 0; i < 65; ++i)
    fs::copy_file(test::reference_dir() / "models/loras/tiny-sdxl-base-kohya-attn.safetensors", dir / ("l" + std::to_string(i) + ".safetensors"));
  ServerProcess server({"-m", tiny().string(), "--lora-dir", dir.path().string()});
  ASSERT_GT(server.port(), 0);
  std::string tags;
  for (int i = 0; i < 65; ++i) tags += "<lora:l" + std::to_string(i) + ":0.01>";
  std::string answer;
  EXPECT_EQ(request(server.port(), post_text("/sdapi/v1/txt2img", json{{"prompt", tags}, {"steps", 1}, {"width", 64}, {"height", 64}}.dump()),
                    &answer),
            422)
      << answer.substr(0, 400);
  EXPECT_NE(answer.find("more than 64"), std::string::npos) << answer.substr(0, 400);
}

// Item 8: a switch to a checkpoint that does not load leaves the old engine serving, even when
// the old one's files are gone meanwhile (it used to be freed first and loaded back, and with
// both failing every request got a 503 with an empty detail).
TEST(HostileModels, AFailedSwitchKeepsTheEngineItHad) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  fs::copy(tiny(), dir / "base", fs::copy_options::recursive);
  fs::create_directories(dir / "models");
  test::write_file(dir / "models/broken.safetensors", "not a safetensors file");
  ServerProcess server({"-m", (dir / "base").string(), "--models-dir", (dir / "models").string()});
  ASSERT_GT(server.port(), 0);
  fs::rename(dir / "base", dir / "gone");  // the loaded checkpoint's files disappear
  std::string answer;
  EXPECT_EQ(request(server.port(), post_text("/sdapi/v1/options", R"({"sd_model_checkpoint": "broken"})"), &answer), 422) << answer;
  EXPECT_NE(answer.find("broken"), std::string::npos) << answer;
  EXPECT_EQ(request(server.port(), post_text("/sdapi/v1/txt2img", R"({"prompt": "x", "steps": 1, "width": 64, "height": 64})"), &answer), 200)
      << answer.substr(0, 400);
}

// Item 11: empty secrets are refused at start; the auth scheme is matched in any case.
TEST(HostileAuth, EmptySecretsAndSchemeCase) {
  SDXL_REQUIRE_REFERENCE();
  for (const std::string args : {"--api-key ''", "--api-auth ''", "--api-auth 'user:'"}) {
    const auto run = run_sdxl("serve -m " + quoted(tiny()) + " --listen 127.0.0.1:0 " + args);
    EXPECT_NE(run.exit_code, 0) << args << ": " << run.output;
  }
  ServerProcess server({"-m", tiny().string(), "--api-key", "s3cret"});
  ASSERT_GT(server.port(), 0);
  EXPECT_EQ(request(server.port(), get_text("/sdapi/v1/samplers", "Authorization: bearer s3cret\r\n")), 200);
  EXPECT_EQ(request(server.port(), get_text("/sdapi/v1/samplers", "Authorization: BEARER s3cret\r\n")), 200);
  EXPECT_EQ(request(server.port(), get_text("/sdapi/v1/samplers", "Authorization: Bearer wrong\r\n")), 401);
  // A 401 before a large body: the connection is closed rather than read as the next request.
  Socket s(server.port());
  const std::string body(200000, 'x');
  s.send_all("POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  const std::string answer = s.read(std::chrono::seconds(5), "\r\n\r\n");
  EXPECT_EQ(status_of(answer), 401) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;
}

}  // namespace
}  // namespace sdxl

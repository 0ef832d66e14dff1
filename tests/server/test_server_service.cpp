// `sdxl serve` as an operator runs it: GET /metrics checked by Prometheus's own promtool on a live
// server's output and its counters against the requests made; the probes; request ids carried
// from the HTTP request into the job's log line; SIGTERM with a job running (it finishes, new ones
// are refused, exit 0), a drain that runs out of time (the job's client answered 503), and a
// second signal that ends the process at once.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/child_process.h"
#include "server/promtool.h"
#include "test_support.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::ChildProcess;

// A server of the test's own, its stderr (the log lines) in a file.
class Served {
 public:
  explicit Served(const std::vector<std::string>& args) {
    log_ = fs::temp_directory_path() / ("sdxl-service-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++) + ".log");
    fs::remove(log_);
    std::vector<std::string> all = {SDXL_CLI_PATH, "serve", "--listen", "127.0.0.1:0", "-m",
                                    (test::reference_dir() / "models/tiny-sdxl-base").string()};
    all.insert(all.end(), args.begin(), args.end());
    process_ = std::make_unique<ChildProcess>(all, log_.string());
    const std::string line = process_->wait_for_line([](const std::string& l) { return l.find("listening on") != std::string::npos; });
    if (!line.empty()) port_ = std::stoi(line.substr(line.rfind(':') + 1));
  }
  ~Served() { fs::remove(log_); }
  int port() const { return port_; }
  ChildProcess& process() { return *process_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    return c;
  }
  std::string log() const { return test::read_file(log_); }
  // The log's JSON lines whose "event" is `event`.
  std::vector<json> events(const std::string& event) const {
    std::vector<json> found;
    std::istringstream lines(log());
    std::string line;
    while (std::getline(lines, line)) {
      const json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.value("event", "") == event) found.push_back(j);
    }
    return found;
  }

 private:
  static inline int counter_ = 0;
  fs::path log_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = -1;
};

std::string txt2img(int steps, int size, const std::string& prompt = "a red barn") {
  return json{{"prompt", prompt}, {"steps", steps}, {"width", size}, {"height", size}}.dump();
}

std::optional<httplib::Response> answer(const httplib::Result& r) {
  if (!r) return std::nullopt;
  return *r;
}

// Waits up to 30 s for `done()` (a full parallel test run can starve the server for seconds).
template <typename Done>
void eventually(Done done) {
  for (int i = 0; i < 1500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

// Waits until the server's one job is sampling.
void wait_until_sampling(const Served& s) {
  auto c = s.client();
  for (int i = 0; i < 600; ++i) {
    const auto r = c.Get("/sdapi/v1/progress?skip_current_image=true");
    if (r && json::parse(r->body)["state"].value("sampling_step", 0) > 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FAIL() << "the job never started sampling";
}

TEST(ServiceMetrics, PromtoolAcceptsALiveScrapeAndTheCountersAreTheRequestsMade) {
  SDXL_REQUIRE_REFERENCE();
  Served s({});
  ASSERT_GT(s.port(), 0);
  auto c = s.client();
  c.set_keep_alive(true);  // one connection: each answer is counted before the next request is read
  for (int i = 0; i < 2; ++i) ASSERT_EQ(c.Post("/sdapi/v1/txt2img", txt2img(3, 64), "application/json")->status, 200);
  ASSERT_EQ(c.Post("/sdapi/v1/txt2img", json{{"prompt", "x"}, {"steps", 0}}.dump(), "application/json")->status, 422);
  ASSERT_EQ(c.Get("/no/such/route")->status, 404);
  ASSERT_EQ(c.Get("/health")->status, 200);
  const auto scraped = c.Get("/metrics");
  ASSERT_EQ(scraped->status, 200);
  EXPECT_EQ(scraped->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  const std::string text = scraped->body;

  EXPECT_EQ(test::promtool_problems(text), "") << text;

  EXPECT_EQ(test::metric_sample(text, R"(sdxl_http_requests_total{family="a1111",code="200"})"), 2);
  EXPECT_EQ(test::metric_sample(text, R"(sdxl_http_requests_total{family="a1111",code="422"})"), 1);
  EXPECT_EQ(test::metric_sample(text, R"(sdxl_http_requests_total{family="other",code="404"})"), 1);
  EXPECT_EQ(test::metric_sample(text, R"(sdxl_http_requests_total{family="service",code="200"})"), 1);  // /health (this scrape is not answered yet)
  EXPECT_EQ(test::metric_sample(text, R"(sdxl_http_request_duration_seconds_count{family="a1111"})"), 3);
  EXPECT_EQ(test::metric_sample(text, R"(sdxl_jobs_total{outcome="succeeded"})"), 2);
  EXPECT_EQ(test::metric_sample(text, "sdxl_images_generated_total"), 2);
  EXPECT_EQ(test::metric_sample(text, "sdxl_denoising_steps_total"), 6);
  EXPECT_EQ(test::metric_sample(text, "sdxl_job_duration_seconds_count"), 2);
  EXPECT_EQ(test::metric_sample(text, "sdxl_queue_wait_seconds_count"), 2);
  EXPECT_EQ(test::metric_sample(text, "sdxl_model_load_duration_seconds_count"), 1);
  EXPECT_EQ(test::metric_sample(text, "sdxl_queue_depth"), 0);
  EXPECT_EQ(test::metric_sample(text, "sdxl_jobs_running"), 0);
  EXPECT_EQ(test::metric_sample(text, "sdxl_ready"), 1);
  EXPECT_GT(test::metric_sample(text, "sdxl_steps_per_second"), 0);
  EXPECT_GT(test::metric_sample(text, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(test::metric_sample(text, "sdxl_memory_available_bytes"), 1e6);
  EXPECT_GT(test::metric_sample(text, "sdxl_engine_weights_bytes"), 1e6);  // the tiny model's ~25 MB
  EXPECT_NE(text.find("sdxl_build_info{version=\""), std::string::npos);
  EXPECT_NE(text.find("precision=\"fp32\"} 1"), std::string::npos);
}

TEST(ServiceMetrics, LoraSwapsAreCountedWhenTheMergedSetChanges) {
  SDXL_REQUIRE_REFERENCE();
  Served s({"--lora-dir", (test::reference_dir() / "models/loras").string()});
  ASSERT_GT(s.port(), 0);
  auto c = s.client();
  const std::string attn = "<lora:tiny-sdxl-base-kohya-attn:0.7>", locon = "<lora:tiny-sdxl-base-kohya-locon:0.5>";
  // none -> attn (a swap) -> attn again (none) -> locon (a swap) -> none (a swap: unmerged)
  for (const std::string& tag : {std::string(), attn, attn, locon, std::string()})
    ASSERT_EQ(c.Post("/sdapi/v1/txt2img", txt2img(1, 64, "a barn " + tag), "application/json")->status, 200) << tag;
  const std::string text = c.Get("/metrics")->body;
  EXPECT_EQ(test::metric_sample(text, "sdxl_lora_swaps_total"), 3) << text;
}

TEST(ServiceProbes, ProbesNeedNoCredentialsAndMetricsDoUnlessPublic) {
  SDXL_REQUIRE_REFERENCE();
  Served locked({"--api-key", "sesame"});
  ASSERT_GT(locked.port(), 0);
  auto c = locked.client();
  EXPECT_EQ(c.Get("/health")->status, 200);
  const auto ready = c.Get("/ready");
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(json::parse(ready->body)["status"], "ready");
  EXPECT_EQ(c.Get("/metrics")->status, 401);
  EXPECT_EQ(c.Get("/metrics", {{"Authorization", "Bearer sesame"}})->status, 200);
  EXPECT_EQ(c.Post("/sdapi/v1/txt2img", txt2img(1, 64), "application/json")->status, 401);  // the probes open nothing else

  Served open({"--api-key", "sesame", "--metrics-public"});
  ASSERT_GT(open.port(), 0);
  EXPECT_EQ(open.client().Get("/metrics")->status, 200);
  EXPECT_EQ(open.client().Get("/sdapi/v1/options")->status, 401);
}

TEST(ServiceLogs, JsonLinesCarryTheRequestIdIntoTheJobAndKeepPromptsOut) {
  SDXL_REQUIRE_REFERENCE();
  Served s({"--log-format", "json"});
  ASSERT_GT(s.port(), 0);
  auto c = s.client();
  const auto named = c.Post("/sdapi/v1/txt2img", {{"X-Request-Id", "trace-42.a:b_c"}}, txt2img(2, 64, "a secret lighthouse"),
                            "application/json");
  ASSERT_EQ(named->status, 200);
  EXPECT_EQ(named->get_header_value("X-Request-Id"), "trace-42.a:b_c");
  const auto unnamed = c.Post("/v1/jobs", {{"X-Request-Id", "has spaces\" and quotes"}}, json{{"prompt", "x"}, {"num_inference_steps", 1},
                              {"width", 64}, {"height", 64}}.dump(), "application/json");
  ASSERT_EQ(unnamed->status, 202);
  const std::string made = unnamed->get_header_value("X-Request-Id");
  EXPECT_EQ(made.size(), 16u) << made;  // not a plain token: replaced
  EXPECT_EQ(c.Get("/health")->get_header_value("X-Request-Id").size(), 16u);
  // A request's line is written once its answer is sent: it may come just after the client has it.
  const auto has_request_line = [&s](const std::string& id) {
    for (const json& r : s.events("request"))
      if (r.value("request_id", "") == id) return true;
    return false;
  };
  eventually([&] { return s.events("job").size() >= 2 && has_request_line("trace-42.a:b_c") && has_request_line(made); });

  bool request_line = false, job_line = false;
  for (const json& r : s.events("request"))
    if (r.value("request_id", "") == "trace-42.a:b_c") {
      request_line = true;
      EXPECT_EQ(r["route"], "/sdapi/v1/txt2img");
      EXPECT_EQ(r["status"], 200);
      EXPECT_EQ(r["method"], "POST");
      EXPECT_TRUE(r["seconds"].is_number());
      EXPECT_EQ(r["level"], "info");
    }
  const auto jobs = s.events("job");
  ASSERT_EQ(jobs.size(), 2u) << s.log();
  for (const json& j : jobs) {
    if (j["request_id"] == "trace-42.a:b_c") {
      job_line = true;
      EXPECT_EQ(j["model"], "tiny-sdxl-base");
      EXPECT_EQ(j["steps"], 2);
      EXPECT_EQ(j["size"], "64x64");
      EXPECT_EQ(j["outcome"], "succeeded");
      EXPECT_EQ(j["job_id"].get<std::string>().size(), 32u);
    } else {
      EXPECT_EQ(j["request_id"], made);
    }
  }
  EXPECT_TRUE(request_line && job_line) << s.log();
  EXPECT_EQ(s.log().find("lighthouse"), std::string::npos) << "a prompt reached the log without --log-prompts";
  EXPECT_TRUE(s.events("request").size() >= 2);
  for (const json& r : s.events("request")) EXPECT_NE(r["route"], "/health");  // probes log at debug only

  Served told({"--log-format", "text", "--log-prompts"});
  ASSERT_GT(told.port(), 0);
  ASSERT_EQ(told.client().Post("/sdapi/v1/txt2img", txt2img(1, 64, "a secret lighthouse"), "application/json")->status, 200);
  eventually([&] { return told.log().find(" job ") != std::string::npos && told.log().find(" info request request_id=") != std::string::npos; });
  EXPECT_NE(told.log().find("lighthouse"), std::string::npos) << told.log();
  EXPECT_NE(told.log().find(" info request request_id="), std::string::npos) << told.log();
}

TEST(ServiceShutdown, SigtermLetsTheRunningJobFinishRefusesNewOnesAndExitsZero) {
  SDXL_REQUIRE_REFERENCE();
  Served s({"--log-format", "json"});
  ASSERT_GT(s.port(), 0);
  std::optional<httplib::Response> running;
  std::jthread client([&] { running = answer(s.client().Post("/sdapi/v1/txt2img", txt2img(40, 256), "application/json")); });
  wait_until_sampling(s);
  kill(s.process().pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto c = s.client();
  const auto ready = c.Get("/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(json::parse(ready->body)["reason"], "shutting down");
  const auto refused = c.Post("/sdapi/v1/txt2img", txt2img(1, 64), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_NE(refused->body.find("shutting down"), std::string::npos);
  client.join();
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->status, 200);
  EXPECT_EQ(json::parse(running->body)["images"].size(), 1u);
  const int status = s.process().wait_exit(30);
  ASSERT_NE(status, -1) << "still running after its drain";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_EQ(s.events("stopped").size(), 1u) << s.log();
  EXPECT_EQ(s.events("stopped")[0]["drained"], true);
}

TEST(ServiceShutdown, ADrainThatRunsOutOfTimeCancelsTheJobAndAnswersItsClient) {
  SDXL_REQUIRE_REFERENCE();
  Served s({"--drain-timeout", "0.5"});
  ASSERT_GT(s.port(), 0);
  std::optional<httplib::Response> running, queued;
  std::jthread first([&] { running = answer(s.client().Post("/sdapi/v1/txt2img", txt2img(1000, 256), "application/json")); });
  wait_until_sampling(s);
  std::jthread second([&] { queued = answer(s.client().Post("/sdapi/v1/txt2img", txt2img(2, 64), "application/json")); });
  for (int i = 0; i < 100; ++i) {  // the second job queued behind it
    const auto m = s.client().Get("/metrics");
    if (m && test::metric_sample(m->body, "sdxl_queue_depth") == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto asked = std::chrono::steady_clock::now();
  kill(s.process().pid(), SIGTERM);
  first.join();
  second.join();
  ASSERT_TRUE(running.has_value());
  ASSERT_TRUE(queued.has_value());
  EXPECT_EQ(running->status, 503) << running->body.substr(0, 300);
  EXPECT_NE(running->body.find("shut down"), std::string::npos) << running->body.substr(0, 300);
  EXPECT_EQ(queued->status, 503) << queued->body.substr(0, 300);
  EXPECT_NE(queued->body.find("shut down before this job ran"), std::string::npos) << queued->body.substr(0, 300);
  const int status = s.process().wait_exit(30);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count(), 20.0);
}

TEST(ServiceShutdown, ASecondSignalEndsTheProcessAtOnce) {
  SDXL_REQUIRE_REFERENCE();
  Served s({"--drain-timeout", "600"});
  ASSERT_GT(s.port(), 0);
  std::jthread client([&] { s.client().Post("/sdapi/v1/txt2img", txt2img(1000, 256), "application/json"); });
  wait_until_sampling(s);
  kill(s.process().pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_EQ(s.process().wait_exit(0.5), -1) << "the first signal should drain, not end it";
  kill(s.process().pid(), SIGINT);
  const int status = s.process().wait_exit(5);
  ASSERT_NE(status, -1) << "a second signal should end it at once";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  client.join();
}

}  // namespace
}  // namespace sdxl

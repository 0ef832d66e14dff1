// The Redis Streams queue as it is deployed: a redis-server of the test's own, `sdxl serve
// --queue` front ends and `sdxl worker`s as separate processes on the tiny model. Jobs submitted
// through any front end finish exactly once with the CLI's image, through a worker killed with
// SIGKILL mid-job, a job whose workers keep dying, a Redis killed and restarted, and cancels.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/cli_runner.h"
#include "io/png.h"
#include "server/promtool.h"
#include "server/redis_process.h"
#include "server/server_process.h"
#include "test_support.h"

namespace sdxl {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using test::ChildProcess;
using test::RedisProcess;
using test::ServerProcess;

fs::path tiny() { return test::reference_dir() / "models/tiny-sdxl-base"; }

class WorkerProcess {
 public:
  WorkerProcess(const RedisProcess& redis, const std::string& name, const fs::path& log, std::vector<std::string> extra = {}) : name_(name) {
    std::vector<std::string> args = {SDXL_CLI_PATH, "worker", "--queue", redis.url(), "-m", tiny().string(), "--name", name,
                                     "--claim-idle", "1", "--threads", "1"};  // several to a machine: one core each
    args.insert(args.end(), extra.begin(), extra.end());
    process_ = std::make_unique<ChildProcess>(args, log.string());
    ready_ = !process_->wait_for_line([this](const std::string& l) {
                         if (l.find("metrics on http://") != std::string::npos) metrics_port_ = std::stoi(l.substr(l.rfind(':') + 1));
                         return l.find("ready") != std::string::npos;
                       }).empty();
  }
  bool ready() const { return ready_; }
  int metrics_port() const { return metrics_port_; }  // with --metrics-listen
  ChildProcess& process() { return *process_; }
  const std::string& name() const { return name_; }
  void kill_hard() { process_->stop(SIGKILL); }
  pid_t pid() const { return process_->pid(); }

 private:
  std::string name_;
  std::unique_ptr<ChildProcess> process_;
  bool ready_ = false;
  int metrics_port_ = -1;
};

struct Reply {
  int status = 0;  // 0: no answer
  json body;
};

Reply call(const ServerProcess& s, const std::string& method, const std::string& path, const json& body = json()) {
  auto c = s.client(30);
  httplib::Result r = method == "GET"      ? c.Get(path.c_str())
                      : method == "DELETE" ? c.Delete(path.c_str())
                                           : c.Post(path.c_str(), body.dump(), "application/json");
  if (!r) return {};
  return {r->status, json::parse(r->body, nullptr, false)};
}

// Submits through `s`, trying again while the queue is unreachable (503), as clients do.
std::string submit(const ServerProcess& s, const json& job) {
  for (int i = 0; i < 400; ++i) {
    const Reply r = call(s, "POST", "/v1/jobs", job);
    if (r.status == 202) return r.body["id"];
    if (r.status != 503 && r.status != 0) {
      ADD_FAILURE() << "refused: " << r.status << " " << r.body.dump();
      return "";
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  ADD_FAILURE() << "never accepted: " << job.dump();
  return "";
}

// The job's view once it has ended, asking the front ends in turn (as a load balancer would).
json wait_done(const std::vector<const ServerProcess*>& fronts, const std::string& id, int seconds = 120) {
  json view;
  for (int i = 0; i < seconds * 20; ++i) {
    const Reply r = call(*fronts[i % fronts.size()], "GET", "/v1/jobs/" + id);
    if (r.status == 200) {
      view = r.body;
      const std::string status = view["status"];
      if (status != "queued" && status != "running") return view;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " did not end: " << view.dump();
  return view;
}

std::string job_field(server::RedisConnection& redis, const std::string& id, const std::string& field) {
  return redis.command({"HGET", "sdxl:job:" + id, field}).text;
}

// Waits until the job runs (on `worker`, when given); returns the worker's name.
std::string wait_running(server::RedisConnection& redis, const std::string& id, const std::string& worker = "") {
  for (int i = 0; i < 400; ++i) {
    if (job_field(redis, id, "state") == "running" && std::atoi(job_field(redis, id, "step").c_str()) > 0 &&
        (worker.empty() || job_field(redis, id, "worker") == worker))
      return job_field(redis, id, "worker");
    std::this_thread::sleep_for(milliseconds(50));
  }
  ADD_FAILURE() << "job " << id << " never ran" << (worker.empty() ? "" : " on " + worker);
  return "";
}

std::vector<uint8_t> image_pixels(const ServerProcess& s, const std::string& id) {
  auto r = s.client().Get(("/v1/jobs/" + id + "/images/0").c_str());
  if (!r || r->status != 200) return {};
  return io::decode_png(std::vector<uint8_t>(r->body.begin(), r->body.end()), "reply").pixels;
}

std::vector<uint8_t> cli_pixels(const fs::path& dir, const std::string& prompt, int steps, uint64_t seed) {
  const fs::path out = dir / ("cli-" + std::to_string(seed) + "-" + std::to_string(steps) + ".png");
  // One thread, as the workers here: a GEMM's summation order, and so the last bits, follow the
  // thread count.
  auto cli = run_sdxl("--threads 1 generate -m " + quoted(tiny()) + " -p '" + prompt + "' --steps " + std::to_string(steps) +
                      " -W 64 -H 64 --seed " + std::to_string(seed) + " -o " + quoted(out));
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  return io::read_png(out).pixels;
}

json job(const std::string& prompt, int steps, uint64_t seed) {
  return {{"prompt", prompt}, {"width", 64}, {"height", 64}, {"num_inference_steps", steps}, {"seed", seed}};
}

long long stream_length(server::RedisConnection& redis, const std::string& stream) { return redis.command({"XLEN", stream}).integer; }

// 2 front ends, 3 workers, 30 jobs and a long one whose worker is killed (SIGKILL) mid-job: every
// job succeeds once, with the CLI's image; the long one is taken over by another worker.
TEST(RedisQueue, FrontEndsAndWorkersSurviveAKilledWorker) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  std::vector<std::unique_ptr<WorkerProcess>> workers;
  for (int i = 0; i < 3; ++i) {
    workers.push_back(std::make_unique<WorkerProcess>(redis, "w" + std::to_string(i), dir / "workers.log"));
    ASSERT_TRUE(workers.back()->ready()) << test::read_file(dir / "workers.log");
  }
  ServerProcess a({"--queue", redis.url()}), b({"--queue", redis.url()});
  ASSERT_GT(a.port(), 0);
  ASSERT_GT(b.port(), 0);
  const std::vector<const ServerProcess*> fronts = {&a, &b};
  server::RedisConnection r(redis.address());

  const std::string long_job = submit(a, job("a long night", 300, 9));
  const std::string victim = wait_running(r, long_job);
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(submit(*fronts[i % 2], job("a lighthouse", 5, 100 + i % 3)));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 30u);
  for (auto& w : workers)
    if (w->name() == victim) w->kill_hard();

  std::map<uint64_t, std::vector<uint8_t>> expected;
  for (uint64_t seed : {100, 101, 102}) expected[seed] = cli_pixels(dir.path(), "a lighthouse", 5, seed);
  for (int i = 0; i < 30; ++i) {
    const json view = wait_done(fronts, ids[static_cast<size_t>(i)]);
    ASSERT_EQ(view["status"], "succeeded") << view.dump();
    EXPECT_EQ(view["images"].size(), 1u);
    EXPECT_EQ(view["seeds"][0], 100 + i % 3);
    EXPECT_TRUE(image_pixels(*fronts[(i + 1) % 2], ids[static_cast<size_t>(i)]) == expected[100 + i % 3]) << "job " << i;
  }
  const json long_view = wait_done(fronts, long_job, 300);
  ASSERT_EQ(long_view["status"], "succeeded") << long_view.dump();
  EXPECT_EQ(job_field(r, long_job, "deliveries"), "2");
  EXPECT_NE(job_field(r, long_job, "worker"), victim);
  EXPECT_TRUE(image_pixels(b, long_job) == cli_pixels(dir.path(), "a long night", 300, 9));
  // Nothing left behind: every entry acknowledged and removed, none dead.
  EXPECT_EQ(stream_length(r, "sdxl"), 0);
  EXPECT_EQ(stream_length(r, "sdxl:dead"), 0);
  EXPECT_EQ(r.command({"XPENDING", "sdxl", "sdxl-workers"}).items[0].integer, 0);
  // AUTOMATIC1111's synchronous call through a front end.
  const Reply sync = call(b, "POST", "/sdapi/v1/txt2img", {{"prompt", "a cat"}, {"steps", 3}, {"width", 64}, {"height", 64}});
  EXPECT_EQ(sync.status, 200);
  EXPECT_EQ(sync.body["images"].size(), 1u);
}

// A job whose worker dies at every delivery goes to the dead-letter stream and is reported
// failed, and the queue goes on.
TEST(RedisQueue, AJobThatKeepsKillingWorkersIsDeadLettered) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  ServerProcess front({"--queue", redis.url()});
  ASSERT_GT(front.port(), 0);
  server::RedisConnection r(redis.address());
  const std::vector<std::string> limit = {"--max-deliveries", "2"};
  auto first = std::make_unique<WorkerProcess>(redis, "first", dir / "workers.log", limit);
  ASSERT_TRUE(first->ready());
  const std::string id = submit(front, job("a poisoned job", 400, 3));
  wait_running(r, id, "first");
  first->kill_hard();
  auto second = std::make_unique<WorkerProcess>(redis, "second", dir / "workers.log", limit);
  ASSERT_TRUE(second->ready());
  wait_running(r, id, "second");
  second->kill_hard();
  WorkerProcess third(redis, "third", dir / "workers.log", limit);
  ASSERT_TRUE(third.ready());
  const json view = wait_done({&front}, id);
  EXPECT_EQ(view["status"], "failed") << view.dump();
  EXPECT_NE(view.dump().find("sdxl:dead"), std::string::npos) << view.dump();
  EXPECT_EQ(stream_length(r, "sdxl:dead"), 1);
  EXPECT_EQ(r.command({"XPENDING", "sdxl", "sdxl-workers"}).items[0].integer, 0);
  EXPECT_EQ(wait_done({&front}, submit(front, job("next", 3, 4)))["status"], "succeeded");
}

// Redis killed (SIGKILL) and restarted mid-run: the front end answers 503 meanwhile and recovers
// by itself; no job it had accepted is lost.
TEST(RedisQueue, ARedisRestartLosesNoAcceptedJob) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  WorkerProcess w1(redis, "w1", dir / "workers.log"), w2(redis, "w2", dir / "workers.log");
  ASSERT_TRUE(w1.ready() && w2.ready());
  ServerProcess front({"--queue", redis.url()});
  ASSERT_GT(front.port(), 0);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(submit(front, job("before", 60, 200 + i)));
  redis.kill_hard();
  const Reply down = call(front, "POST", "/v1/jobs", job("while down", 5, 1));
  EXPECT_EQ(down.status, 503) << down.body.dump();
  EXPECT_NE(down.body.dump().find("unreachable"), std::string::npos) << down.body.dump();
  std::this_thread::sleep_for(milliseconds(700));
  redis.start();
  for (int i = 0; i < 4; ++i) ids.push_back(submit(front, job("after", 5, 300 + i)));
  for (const auto& id : ids) EXPECT_EQ(wait_done({&front}, id)["status"], "succeeded") << id;
  EXPECT_TRUE(image_pixels(front, ids[0]) == cli_pixels(dir.path(), "before", 60, 200));
}

// Cancels reach the worker running the job; a queued job cancelled never runs; jobs that name a
// checkpoint go to its workers, and one no worker serves is refused.
TEST(RedisQueue, CancelsAndRoutingByCheckpoint) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  WorkerProcess worker(redis, "only", dir / "workers.log");
  ASSERT_TRUE(worker.ready());
  ServerProcess a({"--queue", redis.url()}), b({"--queue", redis.url()});
  server::RedisConnection r(redis.address());
  const std::string running = submit(a, job("a long night", 1000, 5));
  wait_running(r, running);
  const std::string queued = submit(a, job("never", 5, 6));
  EXPECT_EQ(call(b, "DELETE", "/v1/jobs/" + queued).status, 200);
  EXPECT_EQ(call(b, "DELETE", "/v1/jobs/" + running).status, 200);
  EXPECT_EQ(wait_done({&a, &b}, running, 30)["status"], "cancelled");
  EXPECT_EQ(wait_done({&a, &b}, queued, 30)["status"], "cancelled");
  EXPECT_EQ(job_field(r, queued, "started_ms"), "");  // it never ran

  // AUTOMATIC1111's interrupt through another front end: the synchronous call is answered with
  // the image of the latents reached, and its second repeat never runs.
  json interrupted;
  std::thread caller([&] {
    auto c = a.client(120);
    auto reply = c.Post("/sdapi/v1/txt2img",
                        json{{"prompt", "slow"}, {"steps", 1000}, {"width", 64}, {"height", 64}, {"n_iter", 2}}.dump(), "application/json");
    if (reply && reply->status == 200) interrupted = json::parse(reply->body);
  });
  bool sampling = false;
  for (int i = 0; i < 400 && !sampling; ++i) {
    sampling = call(b, "GET", "/sdapi/v1/progress").body["state"]["sampling_step"].get<int>() > 2;
    if (!sampling) std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_TRUE(sampling);
  EXPECT_EQ(call(b, "POST", "/sdapi/v1/interrupt").status, 200);
  caller.join();
  ASSERT_TRUE(interrupted.contains("images")) << "the interrupted call was not answered with its images";
  EXPECT_EQ(interrupted["images"].size(), 1u);

  // What the worker's engine would refuse, the front end refuses at once, from the capacity the
  // worker publishes (its memory, no refiner): nothing is queued.
  for (int i = 0; i < 100 && r.command({"HEXISTS", "sdxl:capacity", "only"}).integer == 0; ++i)
    std::this_thread::sleep_for(milliseconds(50));
  // (the cancelled queued entry leaves the stream when the worker draws it)
  for (int i = 0; i < 200 && stream_length(r, "sdxl") > 0; ++i) std::this_thread::sleep_for(milliseconds(50));
  ASSERT_EQ(stream_length(r, "sdxl"), 0);
  json huge = job("too much", 1, 1);
  huge["width"] = huge["height"] = 4096;
  huge["num_images_per_prompt"] = 64;
  const Reply too_big = call(a, "POST", "/v1/jobs", huge);
  EXPECT_EQ(too_big.status, 507) << too_big.body.dump();
  EXPECT_NE(too_big.body.dump().find("GiB"), std::string::npos) << too_big.body.dump();
  json refined = job("refined", 2, 1);
  refined["refiner_mode"] = "ensemble";
  const Reply no_refiner = call(b, "POST", "/v1/jobs", refined);
  EXPECT_EQ(no_refiner.status, 422) << no_refiner.body.dump();
  EXPECT_EQ(stream_length(r, "sdxl"), 0);  // nothing was queued

  json named = job("routed", 3, 7);
  named["model"] = "tiny-sdxl-base";
  const std::string routed = submit(b, named);
  EXPECT_EQ(job_field(r, routed, "stream"), "sdxl:model:tiny-sdxl-base");
  EXPECT_EQ(wait_done({&a}, routed)["status"], "succeeded");
  // Progress and the end as Server-Sent Events through the other front end.
  std::string events;
  auto c = a.client();
  ASSERT_TRUE(c.Get(("/v1/jobs/" + routed + "/events").c_str(), [&](const char* data, size_t n) {
    events.append(data, n);
    return true;
  }));
  EXPECT_NE(events.find("event: done"), std::string::npos) << events;
  // What only the worker can check (its LoRA folder) fails the job with the 4xx it deserves.
  const json missing = wait_done({&b}, submit(a, {{"prompt", "x <lora:nowhere:1>"}, {"prompt_syntax", "a1111"}, {"width", 64},
                                                  {"height", 64}, {"num_inference_steps", 2}}));
  EXPECT_EQ(missing["status"], "failed") << missing.dump();
  EXPECT_NE(missing.dump().find("nowhere"), std::string::npos) << missing.dump();
  // AUTOMATIC1111's options set the checkpoint of jobs that name none, for every front end.
  EXPECT_EQ(call(a, "POST", "/sdapi/v1/options", {{"sd_model_checkpoint", "tiny-sdxl-base"}}).status, 200);
  EXPECT_EQ(job_field(r, submit(b, job("default", 2, 8)), "stream"), "sdxl:model:tiny-sdxl-base");
  EXPECT_EQ(call(b, "POST", "/sdapi/v1/options", {{"sd_model_checkpoint", "no-such-model"}}).status, 404);
  named["model"] = "no-such-model";
  const Reply refused = call(a, "POST", "/v1/jobs", named);
  EXPECT_EQ(refused.status, 404) << refused.body.dump();
}

// #23 item 9: a worker stalled (SIGSTOP) past --claim-idle is replaced; when it wakes, its
// progress and its result are refused (fenced by the delivery's owner token): the job's progress
// is the new owner's alone, and it ends once, with the new owner's image.
TEST(RedisQueue, AStalledWorkerThatWakesIsFenced) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  WorkerProcess first(redis, "first", dir / "workers.log"), second(redis, "second", dir / "workers.log");
  ASSERT_TRUE(first.ready() && second.ready());
  ServerProcess front({"--queue", redis.url()});
  ASSERT_GT(front.port(), 0);
  server::RedisConnection r(redis.address());
  const std::string id = submit(front, job("a long night", 400, 11));
  const std::string stalled = wait_running(r, id);
  WorkerProcess& sleeper = stalled == "first" ? first : second;
  const std::string other = stalled == "first" ? "second" : "first";
  ASSERT_EQ(kill(sleeper.pid(), SIGSTOP), 0);
  wait_running(r, id, other);  // taken over after --claim-idle
  const std::string owner = job_field(r, id, "owner");
  ASSERT_EQ(kill(sleeper.pid(), SIGCONT), 0);
  // The woken worker was steps ahead: had its writes landed, the step would jump back and forth.
  int last = 0, backwards = 0;
  for (int i = 0; i < 60 && job_field(r, id, "state") == "running"; ++i) {
    if (job_field(r, id, "stage") == "decoding") break;  // its own steps, from 1
    const int step = std::atoi(job_field(r, id, "step").c_str());
    if (step < last) ++backwards;
    last = step;
    EXPECT_EQ(job_field(r, id, "owner"), owner);
    std::this_thread::sleep_for(milliseconds(25));
  }
  EXPECT_EQ(backwards, 0) << "the stalled worker's progress overwrote the new owner's";
  const json view = wait_done({&front}, id, 300);
  ASSERT_EQ(view["status"], "succeeded") << view.dump();
  EXPECT_EQ(job_field(r, id, "worker"), other);
  EXPECT_EQ(job_field(r, id, "deliveries"), "2");
  EXPECT_TRUE(image_pixels(front, id) == cli_pixels(dir.path(), "a long night", 400, 11));
  for (int i = 0; i < 100 && test::read_file(dir / "workers.log").find("taken over") == std::string::npos; ++i)
    std::this_thread::sleep_for(milliseconds(50));
  EXPECT_NE(test::read_file(dir / "workers.log").find("job_id=" + id + " worker=first: taken over by another worker"), std::string::npos)
      << test::read_file(dir / "workers.log");
  EXPECT_EQ(r.command({"XPENDING", "sdxl", "sdxl-workers"}).items[0].integer, 0);
}

// #23 item 9: with no live worker a synchronous call is answered 503 after --no-worker-timeout
// (its job cancelled) instead of waiting forever; #30: a job no worker takes within --queued-ttl
// fails saying so, its hash expires after the result time, and a worker that comes later drops it.
TEST(RedisQueue, WithoutWorkersCallsEndAndQueuedJobsExpire) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  ServerProcess front({"--queue", redis.url(), "--no-worker-timeout", "2", "--result-ttl", "60", "--queued-ttl", "1"});
  ASSERT_GT(front.port(), 0);
  server::RedisConnection r(redis.address());
  const auto start = std::chrono::steady_clock::now();
  const Reply sync = call(front, "POST", "/sdapi/v1/txt2img", {{"prompt", "a cat"}, {"steps", 2}, {"width", 64}, {"height", 64}});
  EXPECT_EQ(sync.status, 503) << sync.body.dump();
  EXPECT_NE(sync.body.dump().find("no worker"), std::string::npos) << sync.body.dump();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  const std::string id = submit(front, job("nobody takes me", 2, 1));
  EXPECT_EQ(call(front, "GET", "/v1/jobs/" + id).body["status"], "queued");
  EXPECT_LE(r.command({"TTL", "sdxl:job:" + id}).integer, 61);  // queued 1 s, then readable for the result time
  std::this_thread::sleep_for(milliseconds(1200));
  const json view = wait_done({&front}, id, 10);
  EXPECT_EQ(view["status"], "failed") << view.dump();
  EXPECT_NE(view.dump().find("no worker took this job within --queued-ttl (1 s)"), std::string::npos) << view.dump();
  const long long ttl = r.command({"TTL", "sdxl:job:" + id}).integer;
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 60);
  // A worker that comes now draws the expired entry, drops it and runs nothing.
  const std::string waiting = submit(front, job("expires before a worker comes", 2, 2));
  std::this_thread::sleep_for(milliseconds(1200));
  WorkerProcess late(redis, "late", dir / "workers.log");
  ASSERT_TRUE(late.ready());
  for (int i = 0; i < 100 && stream_length(r, "sdxl") > 0; ++i) std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(stream_length(r, "sdxl"), 0);
  EXPECT_EQ(job_field(r, waiting, "state"), "failed");
  EXPECT_EQ(job_field(r, waiting, "worker"), "");  // never started
}

// #30: a front end's /ready follows the live workers, its /metrics the streams and the workers
// (promtool-valid), and a worker's own --metrics-listen counts the jobs it ran.
TEST(RedisQueue, ProbesAndMetricsOfFrontEndsAndWorkers) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  ServerProcess front({"--queue", redis.url()});
  ASSERT_GT(front.port(), 0);
  const Reply before = call(front, "GET", "/ready");
  EXPECT_EQ(before.status, 503);
  EXPECT_EQ(before.body["reason"], "no live worker") << before.body.dump();
  EXPECT_EQ(call(front, "GET", "/health").status, 200);

  WorkerProcess worker(redis, "watched", dir / "workers.log", {"--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(worker.ready()) << test::read_file(dir / "workers.log");
  ASSERT_GT(worker.metrics_port(), 0);
  int ready = 0;
  for (int i = 0; i < 100 && (ready = call(front, "GET", "/ready").status) != 200; ++i) std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(ready, 200);
  const auto posted = front.client().Post("/v1/jobs", {{"X-Request-Id", "queued-trace-7"}}, job("a counted job", 4, 5).dump(),
                                          "application/json");
  ASSERT_TRUE(posted && posted->status == 202);
  EXPECT_EQ(posted->get_header_value("X-Request-Id"), "queued-trace-7");
  const std::string id = json::parse(posted->body)["id"];
  ASSERT_EQ(wait_done({&front}, id)["status"], "succeeded");
  // The worker's line about the job carries the front end's request id.
  for (int i = 0; i < 100 && test::read_file(dir / "workers.log").find("job_id=" + id) == std::string::npos; ++i)
    std::this_thread::sleep_for(milliseconds(20));
  EXPECT_NE(test::read_file(dir / "workers.log").find("request_id=queued-trace-7 job_id=" + id), std::string::npos)
      << test::read_file(dir / "workers.log");

  const auto scraped = front.client().Get("/metrics");
  ASSERT_TRUE(scraped && scraped->status == 200);
  EXPECT_EQ(test::promtool_problems(scraped->body), "") << scraped->body;
  EXPECT_EQ(test::metric_sample(scraped->body, "sdxl_queue_workers"), 1);
  EXPECT_EQ(test::metric_sample(scraped->body, R"(sdxl_queue_stream_length{stream="sdxl"})"), 0);
  EXPECT_EQ(test::metric_sample(scraped->body, R"(sdxl_queue_pending_entries{stream="sdxl"})"), 0);
  EXPECT_EQ(test::metric_sample(scraped->body, "sdxl_queue_dead_letters"), 0);
  EXPECT_EQ(test::metric_sample(scraped->body, "sdxl_queue_reachable"), 1);
  EXPECT_EQ(test::metric_sample(scraped->body, R"(sdxl_http_requests_total{family="jobs",code="202"})"), 1);

  httplib::Client own("127.0.0.1", worker.metrics_port());
  const auto counted = own.Get("/metrics");
  ASSERT_TRUE(counted && counted->status == 200);
  EXPECT_EQ(test::promtool_problems(counted->body), "") << counted->body;
  EXPECT_EQ(test::metric_sample(counted->body, R"(sdxl_jobs_total{outcome="succeeded"})"), 1);
  EXPECT_EQ(test::metric_sample(counted->body, "sdxl_denoising_steps_total"), 4);
  EXPECT_EQ(test::metric_sample(counted->body, "sdxl_images_generated_total"), 1);
  EXPECT_EQ(test::metric_sample(counted->body, "sdxl_model_load_duration_seconds_count"), 1);
  EXPECT_EQ(own.Get("/ready")->status, 200);
  EXPECT_EQ(own.Get("/health")->status, 200);
}

// #30: SIGTERM makes a worker finish its job (within --drain-timeout) and exit 0; one whose job
// outlasts the timeout hands it back, and another worker takes it over at once: nothing lost,
// nothing finished twice.
TEST(RedisQueue, SigtermLetsAWorkerFinishOrHandBackItsJob) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  ServerProcess front({"--queue", redis.url()});
  ASSERT_GT(front.port(), 0);
  server::RedisConnection r(redis.address());

  WorkerProcess patient(redis, "patient", dir / "workers.log", {"--drain-timeout", "120"});
  ASSERT_TRUE(patient.ready());
  const std::string finished = submit(front, job("finish me first", 200, 21));
  wait_running(r, finished, "patient");
  kill(patient.pid(), SIGTERM);
  const int patient_exit = patient.process().wait_exit(120);
  ASSERT_NE(patient_exit, -1);
  EXPECT_TRUE(WIFEXITED(patient_exit) && WEXITSTATUS(patient_exit) == 0) << patient_exit;
  EXPECT_EQ(job_field(r, finished, "state"), "succeeded");
  EXPECT_EQ(job_field(r, finished, "deliveries"), "1");

  WorkerProcess hasty(redis, "hasty", dir / "workers.log", {"--drain-timeout", "0.3"});
  ASSERT_TRUE(hasty.ready());
  const std::string handed = submit(front, job("hand me back", 1000, 22));
  wait_running(r, handed, "hasty");
  WorkerProcess heir(redis, "heir", dir / "workers.log");
  ASSERT_TRUE(heir.ready());
  kill(hasty.pid(), SIGTERM);
  const int hasty_exit = hasty.process().wait_exit(60);
  ASSERT_NE(hasty_exit, -1);
  EXPECT_TRUE(WIFEXITED(hasty_exit) && WEXITSTATUS(hasty_exit) == 0) << hasty_exit;
  const json view = wait_done({&front}, handed, 300);
  ASSERT_EQ(view["status"], "succeeded") << view.dump();
  EXPECT_EQ(job_field(r, handed, "worker"), "heir");
  EXPECT_EQ(job_field(r, handed, "deliveries"), "2");
  EXPECT_NE(test::read_file(dir / "workers.log").find("handed back to the queue"), std::string::npos);
  EXPECT_EQ(stream_length(r, "sdxl"), 0);
  EXPECT_EQ(r.command({"XPENDING", "sdxl", "sdxl-workers"}).items[0].integer, 0);
}

// #30: --max-queued bounds the stream's waiting jobs (503 with Retry-After beyond it), and a
// worker's second signal ends it at once, its job left pending for another worker to take over.
TEST(RedisQueue, MaxQueuedAndASecondSignalToAWorker) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  RedisProcess redis(dir.path());
  ServerProcess front({"--queue", redis.url(), "--max-queued", "2"});
  ASSERT_GT(front.port(), 0);
  server::RedisConnection r(redis.address());
  const std::string a = submit(front, job("first in line", 3, 31)), b = submit(front, job("second in line", 3, 32));
  const auto refused = front.client().Post("/v1/jobs", job("one too many", 3, 33).dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "5");
  EXPECT_NE(refused->body.find("the queue is full (2 jobs waiting)"), std::string::npos) << refused->body;

  WorkerProcess quitter(redis, "quitter", dir / "workers.log", {"--drain-timeout", "600"});
  ASSERT_TRUE(quitter.ready());
  EXPECT_EQ(wait_done({&front}, a)["status"], "succeeded");
  EXPECT_EQ(wait_done({&front}, b)["status"], "succeeded");
  const std::string long_job = submit(front, job("left behind", 1000, 34));
  wait_running(r, long_job, "quitter");
  kill(quitter.pid(), SIGTERM);
  std::this_thread::sleep_for(milliseconds(200));
  ASSERT_EQ(quitter.process().wait_exit(0.3), -1) << "the first signal should let the job run on";
  kill(quitter.pid(), SIGTERM);
  const int status = quitter.process().wait_exit(5);
  ASSERT_NE(status, -1) << "a second signal should end the worker at once";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  WorkerProcess successor(redis, "successor", dir / "workers.log");
  ASSERT_TRUE(successor.ready());
  const json view = wait_done({&front}, long_job, 300);
  EXPECT_EQ(view["status"], "succeeded") << view.dump();
  EXPECT_EQ(job_field(r, long_job, "worker"), "successor");
}

}  // namespace
}  // namespace sdxl

// sdxl-queue-bench: what the Redis Streams queue costs, on loopback, with a redis-server of its
// own (AOF, fsync always: the durable setting docs/SCALING.md recommends).
//  1. Overhead per job: 1-step 64x64 jobs on the tiny model, one at a time, through `sdxl serve
//     --queue` and one `sdxl worker`: submit -> the worker starts it (the job's started_ms), and
//     the worker's finish (finished_ms) -> the client holds the result (the synchronous
//     /sdapi/v1/txt2img answer). Beside it, the same request to an in-process `sdxl serve`.
//  2. Throughput: N jobs submitted at once, run by 1 and then 2 workers of one thread each.
//   sdxl-queue-bench [--tiny DIR] [--jobs N] [--steps N] [--size PIXELS]
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "server/redis_process.h"
#include "server/server_process.h"

namespace {

using nlohmann::json;
using sdxl::test::ChildProcess;
using sdxl::test::RedisProcess;
using sdxl::test::ServerProcess;

std::string arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  return fallback;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double p90(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, v.size() * 9 / 10)];
}

std::unique_ptr<ChildProcess> start_worker(const RedisProcess& redis, const std::string& model, const std::string& name, int threads) {
  auto w = std::make_unique<ChildProcess>(std::vector<std::string>{SDXL_CLI_PATH, "--threads", std::to_string(threads), "worker", "--queue",
                                                                   redis.url(), "-m", model, "--name", name},
                                          "/dev/null");
  w->wait_for_line([](const std::string& l) { return l.find("ready") != std::string::npos; });
  return w;
}

json post(const ServerProcess& s, const std::string& path, const json& body) {
  auto c = s.client(3600);
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  if (!r || (r->status != 200 && r->status != 202)) {
    std::fprintf(stderr, "%s failed: %s\n", path.c_str(), r ? r->body.c_str() : "no answer");
    std::exit(1);
  }
  return json::parse(r->body);
}

// Submits `jobs` jobs at once and returns the seconds until every one has succeeded.
double drain(const ServerProcess& front, sdxl::server::RedisConnection& redis, int jobs, int steps, int size) {
  const auto t = std::chrono::steady_clock::now();
  std::vector<std::string> ids;
  for (int i = 0; i < jobs; ++i)
    ids.push_back(post(front, "/v1/jobs", {{"prompt", "a lighthouse"}, {"width", size}, {"height", size}, {"num_inference_steps", steps}, {"seed", i}})["id"]);
  for (const auto& id : ids)
    while (redis.command({"HGET", "sdxl:job:" + id, "state"}).text != "succeeded") std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tiny = arg(argc, argv, "--tiny", std::string(SDXL_DEFAULT_REF_DIR) + "/models/tiny-sdxl-base");
  const int jobs = std::stoi(arg(argc, argv, "--jobs", "40"));
  const int steps = std::stoi(arg(argc, argv, "--steps", "20"));
  const int size = std::stoi(arg(argc, argv, "--size", "64"));
  char folder[] = "/tmp/sdxl-queue-bench-XXXXXX";
  const std::filesystem::path dir = mkdtemp(folder);
  RedisProcess redis(dir);
  sdxl::server::RedisConnection r(redis.address());
  const json small = {{"prompt", "a photo of a cat"}, {"steps", 1}, {"width", 64}, {"height", 64}, {"seed", 1}};

  std::vector<double> in_process, queued, to_start, to_result;
  {
    ServerProcess local({"-m", tiny});
    for (int i = 0; i < 33; ++i) {
      const auto t = std::chrono::steady_clock::now();
      post(local, "/sdapi/v1/txt2img", small);
      if (i >= 3) in_process.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
    }
  }
  {
    auto worker = start_worker(redis, tiny, "bench", 0);
    ServerProcess front({"--queue", redis.url()});
    for (int i = 0; i < 33; ++i) {
      const long long submitted = sdxl::server::now_ms();
      const auto t = std::chrono::steady_clock::now();
      post(front, "/sdapi/v1/txt2img", small);
      const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
      const long long answered = sdxl::server::now_ms();
      // The job's id is not in A1111's answer: the newest job hash is this one (one at a time).
      const auto keys = r.command({"KEYS", "sdxl:job:*"});
      long long started = 0, finished = 0;
      for (const auto& k : keys.items) {
        const auto f = r.command({"HMGET", k.text, "started_ms", "finished_ms"});
        if (std::atoll(f.items[0].text.c_str()) >= started) {
          started = std::atoll(f.items[0].text.c_str());
          finished = std::atoll(f.items[1].text.c_str());
        }
      }
      if (i < 3) continue;
      queued.push_back(total);
      to_start.push_back(static_cast<double>(started - submitted) / 1e3);
      to_result.push_back(static_cast<double>(answered - finished) / 1e3);
    }
  }
  std::printf("| tiny model, 1 step 64x64, 30 sequential requests | median | p90 |\n|---|---|---|\n");
  std::printf("| in-process sdxl serve, /sdapi/v1/txt2img | %.1f ms | %.1f ms |\n", median(in_process) * 1e3, p90(in_process) * 1e3);
  std::printf("| sdxl serve --queue + 1 worker, same request | %.1f ms | %.1f ms |\n", median(queued) * 1e3, p90(queued) * 1e3);
  std::printf("| queue: submit -> worker starts | %.1f ms | %.1f ms |\n", median(to_start) * 1e3, p90(to_start) * 1e3);
  std::printf("| queue: worker finishes -> client has the result | %.1f ms | %.1f ms |\n\n", median(to_result) * 1e3, p90(to_result) * 1e3);

  ServerProcess front({"--queue", redis.url(), "--queue-size", std::to_string(jobs + 10)});
  double one = 0, two = 0;
  {
    auto w = start_worker(redis, tiny, "solo", 1);
    drain(front, r, 4, steps, size);  // warm-up
    one = drain(front, r, jobs, steps, size);
  }
  {
    auto a = start_worker(redis, tiny, "a", 1), b = start_worker(redis, tiny, "b", 1);
    drain(front, r, 4, steps, size);
    two = drain(front, r, jobs, steps, size);
  }
  std::printf("| %d jobs of %d steps %dx%d at once, workers of 1 thread | seconds | jobs/s |\n|---|---|---|\n", jobs, steps, size, size);
  std::printf("| 1 worker | %.2f | %.1f |\n", one, jobs / one);
  std::printf("| 2 workers | %.2f | %.1f |\n", two, jobs / two);
  std::printf("| speed-up | %.2fx | |\n", one / two);
  std::filesystem::remove_all(dir);
  return 0;
}

// sdxl-server-bench: what the HTTP server costs, measured side by side in one run.
//  1. Per-request overhead on the tiny model: the same 1-step 64x64 request 50 times through the
//     C API in process and through `sdxl serve`'s AUTOMATIC1111 route (median and p99 of each,
//     and their difference: parsing, queueing, PNG and base64, HTTP).
//  2. A 512x512 image on the real-size architecture (a random-weights pipeline folder, as
//     sdxl-bench writes): a warm server request against the CLI's whole run for the same image
//     (load included). The server should save the load time and nothing else.
//   sdxl-server-bench [--tiny DIR] [--real DIR] [--steps N] [--precision bf16|fp32]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sdxl/sdxl.h"
#include "server/server_process.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Stats {
  double median = 0, p99 = 0;
};
Stats stats_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, static_cast<size_t>(v.size() * 0.99))]};
}

std::string arg(int argc, char** argv, const char* name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  return fallback;
}

std::vector<double> in_process(const std::string& model, const json& r, int runs) {
  sdxl_engine_params ep;
  sdxl_engine_params_init(&ep);
  ep.model_dir = model.c_str();
  sdxl_engine* engine = nullptr;
  if (sdxl_engine_load(&ep, &engine) != SDXL_STATUS_OK) {
    std::fprintf(stderr, "load failed: %s\n", sdxl_last_error());
    std::exit(1);
  }
  const std::string prompt = r["prompt"];
  const char* prompts[1] = {prompt.c_str()};
  const char* negatives[1] = {""};
  sdxl_generate_params p;
  sdxl_generate_params_init(&p);
  p.prompts = prompts;
  p.prompt_count = 1;
  p.negative_prompts = negatives;
  p.negative_prompt_count = 1;
  p.width = r["width"];
  p.height = r["height"];
  p.steps = r["steps"];
  p.guidance_scale = r["cfg_scale"];
  p.seed = r["seed"];
  p.prompt_syntax = "a1111";
  std::vector<double> times;
  for (int i = 0; i < runs + 3; ++i) {
    const auto t = Clock::now();
    sdxl_images* images = nullptr;
    sdxl_engine_generate(engine, &p, &images);
    // what a caller does with the result: the PNG with its parameters text
    char* text = nullptr;
    sdxl_engine_infotext(engine, &p, images, 0, &text);
    unsigned char* png = nullptr;
    size_t size = 0;
    sdxl_encode_png(images, 0, text, &png, &size);
    sdxl_free_bytes(png);
    sdxl_free_string(text);
    sdxl_images_free(images);
    if (i >= 3) times.push_back(seconds_since(t));  // the first calls warm caches
  }
  sdxl_engine_free(engine);
  return times;
}

std::vector<double> over_http(const sdxl::test::ServerProcess& server, const json& r, int runs, int warmup = 3) {
  std::vector<double> times;
  for (int i = 0; i < runs + warmup; ++i) {
    auto c = server.client(3600);
    const auto t = Clock::now();
    auto res = c.Post("/sdapi/v1/txt2img", r.dump(), "application/json");
    if (!res || res->status != 200) {
      std::fprintf(stderr, "request failed: %s\n", res ? res->body.c_str() : "no answer");
      std::exit(1);
    }
    if (i >= warmup) times.push_back(seconds_since(t));
  }
  return times;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tiny = arg(argc, argv, "--tiny", std::string(SDXL_DEFAULT_REF_DIR) + "/models/tiny-sdxl-base");
  const std::string real = arg(argc, argv, "--real", "");
  const int steps = std::stoi(arg(argc, argv, "--steps", "4"));
  const std::string precision = arg(argc, argv, "--precision", "bf16");

  const json small = {{"prompt", "a photo of a cat"}, {"steps", 1}, {"width", 64}, {"height", 64}, {"seed", 1}, {"cfg_scale", 5.0}};
  const Stats local = stats_of(in_process(tiny, small, 50));
  Stats remote;
  {
    sdxl::test::ServerProcess server({"-m", tiny});
    remote = stats_of(over_http(server, small, 50));
  }
  std::printf("| tiny model, 1 step 64x64, 50 requests | median | p99 |\n|---|---|---|\n");
  std::printf("| in process (C API, PNG encoded) | %.2f ms | %.2f ms |\n", local.median * 1e3, local.p99 * 1e3);
  std::printf("| sdxl serve, /sdapi/v1/txt2img | %.2f ms | %.2f ms |\n", remote.median * 1e3, remote.p99 * 1e3);
  std::printf("| overhead | %.2f ms | %.2f ms |\n\n", (remote.median - local.median) * 1e3, (remote.p99 - local.p99) * 1e3);

  if (!real.empty()) {
    const json big = {{"prompt", "a photo of a cat"}, {"steps", steps}, {"width", 512}, {"height", 512}, {"seed", 1}, {"cfg_scale", 5.0}};
    const std::string command = std::string("'") + SDXL_CLI_PATH + "' generate -m '" + real + "' -p 'a photo of a cat' --prompt-syntax a1111 -n '' -W 512 -H 512 --steps " +
                                std::to_string(steps) + " --seed 1 --guidance 5 --precision " + precision + " -o /tmp/sdxl-server-bench.png > /dev/null 2>&1";
    // Twice: the first run reads the checkpoint into the page cache, which the server then
    // finds as the CLI's second run does.
    double cli = 0;
    for (int run = 0; run < 2; ++run) {
      const auto t = Clock::now();
      if (std::system(command.c_str()) != 0) {
        std::fprintf(stderr, "the CLI failed: %s\n", command.c_str());
        return 1;
      }
      cli = seconds_since(t);
    }
    const auto load_started = Clock::now();
    sdxl::test::ServerProcess server({"-m", real, "--precision", precision});
    const double load = seconds_since(load_started);
    const std::vector<double> warm = over_http(server, big, 1, 1);  // the first request sizes the arenas
    std::printf("| real-size architecture, 512x512, %d steps, %s | seconds |\n|---|---|\n", steps, precision.c_str());
    std::printf("| CLI, whole run (load, text, UNet, decode; second of two runs) | %.1f |\n", cli);
    std::printf("| server start (load) | %.1f |\n", load);
    std::printf("| server, warm request | %.1f |\n", warm.front());
    std::printf("| CLI - warm request | %.1f |\n", cli - warm.front());
  }
  return 0;
}

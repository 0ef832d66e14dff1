#include "cold_start.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "subprocess.h"

namespace sdxl::bench {
namespace {

namespace fs = std::filesystem;

ProcessResult checked(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) line += a + " ";
  std::fprintf(stderr, "$ %s\n", line.c_str());
  ProcessResult r = run_process(argv);
  if (r.exit_code != 0) throw std::runtime_error("the command failed with status " + std::to_string(r.exit_code));
  return r;
}

}  // namespace

ColdStart measure_cold_start(const fs::path& self, const fs::path& cli, const fs::path& model, const fs::path& taesd,
                             const fs::path& cache, const std::vector<std::string>& threads) {
  // One precision's entries at a time, in a folder of its own removed after: the checkpoint
  // (6.5 GB) and the fp32 entries (13 GB) must fit in the page cache together with the engine.
  auto folder = [&](const char* precision) { return cache / precision; };
  auto load = [&](const char* precision) {
    std::vector<std::string> argv{self.string(), "--load-only", model.string(), "--precision", precision,
                                  "--cache-dir", folder(precision).string()};
    argv.insert(argv.end(), threads.begin(), threads.end());
    return result_field(checked(argv).out, "RESULT", "load_s");
  };
  const fs::path png = fs::temp_directory_path() / ("sdxl-bench-cold-" + std::to_string(::getpid()) + ".png");
  auto turbo = [&](const char* precision) {
    std::vector<std::string> argv{cli.string(), "generate", "-m", model.string(), "-p", "a cinematic photo of a fox",
                                  "-W", "512", "-H", "512", "--steps", "1", "--guidance", "0", "--seed", "0",
                                  "--precision", precision, "--taesd", taesd.string(), "--cache-dir",
                                  folder(precision).string(), "-o", png.string()};
    argv.insert(argv.end(), threads.begin(), threads.end());
    return checked(argv).seconds;
  };
  fs::remove_all(cache);
  ColdStart c;
  c.load_bf16_fill_s = load("bf16");
  c.load_bf16_cached_s = load("bf16");  // the best of two: the second finds every page in memory
  c.load_bf16_cached_s = std::min(c.load_bf16_cached_s, load("bf16"));
  turbo("bf16");  // the TAESD's and the CLI's pages into the page cache
  c.turbo_cli_bf16_s = turbo("bf16");
  fs::remove_all(folder("bf16"));
  load("fp32");  // fills
  c.load_fp32_cached_s = load("fp32");
  c.load_fp32_cached_s = std::min(c.load_fp32_cached_s, load("fp32"));
  c.turbo_cli_fp32_s = turbo("fp32");
  c.turbo_cli_fp32_s = std::min(c.turbo_cli_fp32_s, turbo("fp32"));
  fs::remove(png);
  fs::remove_all(cache);  // gigabytes: not left behind
  return c;
}

}  // namespace sdxl::bench

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
  fs::remove_all(cache);
  auto load = [&](const char* precision) {
    std::vector<std::string> argv{self.string(), "--load-only", model.string(), "--precision", precision,
                                  "--cache-dir", cache.string()};
    argv.insert(argv.end(), threads.begin(), threads.end());
    return result_field(checked(argv).out, "RESULT", "load_s");
  };
  ColdStart c;
  c.load_bf16_fill_s = load("bf16");
  c.load_bf16_cached_s = load("bf16");
  c.load_bf16_cached_s = std::min(c.load_bf16_cached_s, load("bf16"));  // the page cache now warm for certain
  const fs::path png = fs::temp_directory_path() / ("sdxl-bench-cold-" + std::to_string(::getpid()) + ".png");
  std::vector<std::string> turbo{cli.string(), "generate", "-m", model.string(), "-p", "a cinematic photo of a fox",
                                 "-W", "512", "-H", "512", "--steps", "1", "--guidance", "0", "--seed", "0",
                                 "--precision", "bf16", "--taesd", taesd.string(), "--cache-dir", cache.string(),
                                 "-o", png.string()};
  turbo.insert(turbo.end(), threads.begin(), threads.end());
  checked(turbo);  // its TAESD and CLI pages into the page cache; the models come from the cache
  c.turbo_cli_cached_s = checked(turbo).seconds;
  fs::remove(png);
  load("fp32");  // fills
  c.load_fp32_cached_s = load("fp32");
  fs::remove_all(cache);  // gigabytes: not left behind
  return c;
}

}  // namespace sdxl::bench

// Cold starts with the packed-weight cache: the real-size base loaded into an engine (each load
// its own process, the page cache warm), the first time writing the cache and then mapping it,
// and the CLI's Turbo-style run (512x512, 1 step, TAESD decode) from process start to PNG.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace sdxl::bench {

struct ColdStart {
  double load_bf16_fill_s = 0;    // the first load at bf16: packs and writes the cache
  double load_bf16_cached_s = 0;  // a later one: maps it
  double load_fp32_cached_s = 0;
  // `sdxl generate` processes, cache filled: bf16 and fp32 (which is faster depends on the CPU's
  // bf16 rate: twice the FMA rate on Zen 4/5, half of it on an Emerald Rapids Xeon).
  double turbo_cli_bf16_s = 0, turbo_cli_fp32_s = 0;
};

// `self`: sdxl-bench (its --load-only child), `cli`: the sdxl binary, `cache`: a folder of the
// benchmark's own (emptied first), `threads`: arguments passed to every child.
ColdStart measure_cold_start(const std::filesystem::path& self, const std::filesystem::path& cli,
                             const std::filesystem::path& model, const std::filesystem::path& taesd,
                             const std::filesystem::path& cache, const std::vector<std::string>& threads);

}  // namespace sdxl::bench

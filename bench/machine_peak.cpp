#include "machine_peak.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "backends/cpu/throughput.h"

namespace sdxl::bench {
namespace {

// Seconds of `body` at its best of `repeats`.
template <typename Body>
double best_seconds(int repeats, Body body) {
  double best = 1e30;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

// The loops are the backend's (the same ones that decide whether bf16 attention pays), run
// longer: about half a second per repeat.
double fma_peak_flops(int threads) { return cpu::fma_loop_flops(threads, 100'000'000, 5); }

double bf16_dot_peak_flops(int threads) { return cpu::bf16_dot_loop_flops(threads, 50'000'000, 5); }

double triad_bytes_per_second(int threads) {
  const size_t n = size_t{1} << 25;  // 128 MiB a float array: far beyond any cache
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
  const float s = 0.5f;
  auto triad = [&] {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) a[static_cast<size_t>(i)] = b[static_cast<size_t>(i)] + s * c[static_cast<size_t>(i)];
  };
  triad();  // the pages touched once (first-touch by the threads that use them)
  const double best = best_seconds(5, triad);
  volatile float sink = a[n / 2];
  (void)sink;
  return 12.0 * static_cast<double>(n) / best;
}

}  // namespace sdxl::bench

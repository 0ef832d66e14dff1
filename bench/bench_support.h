// Shared by the benchmarks: the machine's practical GEMM peak, measured in the same run, and
// the location of the real-size configs.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <vector>

#include "backends/cpu/matmul.h"

namespace sdxl::bench {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// FLOP/s of a square f32 GEMM of size n through `library`, best of `repeats`.
inline double square_gemm_flops(cpu::GemmLibrary library, int64_t n = 2048, int repeats = 4) {
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  std::vector<float> a(static_cast<size_t>(n * n)), w(static_cast<size_t>(n * n)), c(static_cast<size_t>(n * n));
  for (auto& x : a) x = dist(gen);
  for (auto& x : w) x = dist(gen);
  auto layer = cpu::PackedLinear::pack(w.data(), nullptr, n, n, library, n);
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    layer.forward(a.data(), n, c.data());
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * static_cast<double>(n) * n * n / best;
}

// The practical peak: the better of the two libraries.
inline double gemm_peak_flops() {
  return std::max(square_gemm_flops(cpu::GemmLibrary::OpenBlas), square_gemm_flops(cpu::GemmLibrary::OneDnn));
}

inline std::filesystem::path reference_dir() {
  const char* env = std::getenv("SDXL_REF");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(SDXL_DEFAULT_REF_DIR);
}

}  // namespace sdxl::bench

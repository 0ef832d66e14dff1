#include "machine_peak.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace sdxl::bench {
namespace {

// 16 independent accumulators hide the FMA latency (4 cycles) on both FMA ports.
constexpr int kChains = 16;

#if defined(__AVX512F__)
using Vec = __m512;
constexpr int kLanes = 16;
inline Vec splat(float x) { return _mm512_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float lane0(Vec v) { return _mm512_cvtss_f32(v); }
#elif defined(__AVX2__) && defined(__FMA__)
using Vec = __m256;
constexpr int kLanes = 8;
inline Vec splat(float x) { return _mm256_set1_ps(x); }
inline Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float lane0(Vec v) { return _mm256_cvtss_f32(v); }
#else
using Vec = float;
constexpr int kLanes = 1;
inline Vec splat(float x) { return x; }
inline Vec fma(Vec a, Vec b, Vec c) { return a * b + c; }
inline float lane0(Vec v) { return v; }
#endif

float fma_chains(int64_t iterations, float seed) {
  Vec acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = splat(seed + static_cast<float>(c));
  const Vec a = splat(0.999999f), b = splat(1e-7f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = fma(acc[c], a, b);
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += lane0(acc[c]);
  return sum;
}

#if defined(__AVX512BF16__)
float bf16_chains(int64_t iterations, float seed) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(seed + static_cast<float>(c));
  const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
  const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-7f), _mm512_set1_ps(2e-7f));
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbf16_ps(acc[c], a, b);
  float sum = 0;
  for (int c = 0; c < kChains; ++c) sum += _mm512_cvtss_f32(acc[c]);
  return sum;
}
#endif

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

double bf16_dot_peak_flops(int threads) {
#if defined(__AVX512BF16__)
  const int64_t iterations = 50'000'000;
  volatile float sink = 0;
  const double best = best_seconds(5, [&] {
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += bf16_chains(iterations, static_cast<float>(omp_get_thread_num()));
    sink = sink + total;
  });
  // Each instruction: 16 lanes x 2 bf16 pairs, a multiply and an add each.
  return 4.0 * 16 * kChains * static_cast<double>(iterations) * threads / best;
#else
  (void)threads;
  return 0.0;
#endif
}

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

double fma_peak_flops(int threads) {
  const int64_t iterations = 100'000'000;  // about half a second per repeat
  double best = 1e30;
  volatile float sink = 0;
  for (int repeat = 0; repeat < 5; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += fma_chains(iterations, static_cast<float>(omp_get_thread_num()));
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    sink = sink + total;
  }
  return 2.0 * kChains * kLanes * static_cast<double>(iterations) * threads / best;
}

}  // namespace sdxl::bench

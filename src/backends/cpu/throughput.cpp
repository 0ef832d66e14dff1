#include "backends/cpu/throughput.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "backends/cpu/simd_math.h"
#include "core/error.h"

#if defined(__AVX2__) && !defined(SDXL_CPU_AVX512)
#include <immintrin.h>
#endif

namespace sdxl::cpu {
namespace {

// 16 independent accumulators hide the FMA latency (4 cycles) on both FMA ports.
constexpr int kChains = 16;

#if defined(SDXL_CPU_AVX512)
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

// Seconds of the best of `repeats` runs of `chains` on `threads` threads.
template <typename Chains>
double best_seconds(int threads, int64_t iterations, int repeats, Chains chains) {
  double best = 1e30;
  volatile float sink = 0;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto start = std::chrono::steady_clock::now();
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    total += chains(iterations, static_cast<float>(omp_get_thread_num()));
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    sink = sink + total;
  }
  return best;
}

bool measure_bf16_attention_pays() {
  if (const char* forced = std::getenv("SDXL_BF16_ATTENTION")) {
    const std::string value = forced;
    if (value == "on") return bf16_dot_loop_flops(1, 1, 1) > 0;  // still needs the kernel built
    if (value == "off") return false;
    SDXL_CHECK(value == "auto" || value.empty(), InvalidArgument, "SDXL_BF16_ATTENTION=", value,
               ": expected on, off or auto");
  }
  const double bf16 = bf16_dot_loop_flops(1, 200'000, 3);
  return bf16 > 1.3 * fma_loop_flops(1, 200'000, 3);
}

}  // namespace

double fma_loop_flops(int threads, int64_t iterations, int repeats) {
  const double seconds = best_seconds(threads, iterations, repeats, fma_chains);
  return 2.0 * kChains * kLanes * static_cast<double>(iterations) * threads / seconds;
}

double bf16_dot_loop_flops(int threads, int64_t iterations, int repeats) {
#if defined(__AVX512BF16__)
  const double seconds = best_seconds(threads, iterations, repeats, bf16_chains);
  // Each instruction: 16 lanes x 2 bf16 pairs, a multiply and an add each.
  return 4.0 * 16 * kChains * static_cast<double>(iterations) * threads / seconds;
#else
  (void)threads, (void)iterations, (void)repeats;
  return 0.0;
#endif
}

bool bf16_attention_pays() {
  static const bool pays = measure_bf16_attention_pays();
  return pays;
}

}  // namespace sdxl::cpu

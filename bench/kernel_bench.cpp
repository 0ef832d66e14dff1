// Kernel benchmark: GFLOP/s of linear layers (both GEMM libraries) and convolutions on the real
// SDXL UNet / VAE shapes, each as a fraction of the machine's practical peak, measured first in
// the same run as the best large square SGEMM of either library.
//
//   build/bench/kernel_bench [--benchmark_filter=Linear]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/attention.h"
#include "backends/cpu/conv2d.h"
#include "backends/cpu/matmul.h"
#include "backends/cpu/norm.h"
#include "backends/cpu/throughput.h"
#include "core/threads.h"

namespace {

using namespace sdxl::cpu;

double g_peak_flops = 0;  // FLOP/s of the best square SGEMM, measured in main()
double g_fma_flops = 0;   // FLOP/s of the register-only FMA loop, measured in main()
double g_bf16_flops = 0;  // and of the vdpbf16ps loop (0 without AVX512-BF16)

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

void report(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (g_peak_flops > 0)
    state.counters["of_peak"] =
        benchmark::Counter(flops_per_iteration / g_peak_flops, benchmark::Counter::kIsIterationInvariantRate);
}

double time_square_sgemm(GemmLibrary library, int64_t n) {
  auto a = random_floats(static_cast<size_t>(n * n), 1);
  auto w = random_floats(static_cast<size_t>(n * n), 2);
  std::vector<float> c(static_cast<size_t>(n * n));
  auto layer = PackedLinear::pack(w.data(), nullptr, n, n, library, n);
  double best = 1e30;
  for (int rep = 0; rep < 4; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    layer.forward(a.data(), n, c.data());
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return 2.0 * static_cast<double>(n) * n * n / best;
}

// y[M,N] = x[M,K] W^T + b, on SDXL UNet linear shapes (tokens x in x out).
void BM_Linear(benchmark::State& state, GemmLibrary library) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  auto x = random_floats(static_cast<size_t>(m * k), 3);
  auto w = random_floats(static_cast<size_t>(n * k), 4);
  auto b = random_floats(static_cast<size_t>(n), 5);
  std::vector<float> y(static_cast<size_t>(m * n));
  auto layer = PackedLinear::pack(w.data(), b.data(), n, k, library, m);
  for (auto _ : state) {
    layer.forward(x.data(), m, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  report(state, 2.0 * static_cast<double>(m) * n * k);
}

void linear_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "K", "N"});
  // 512x512 images, batch 2 under CFG: level-1 tokens 2*32*32... the reference shapes:
  b->Args({4096, 640, 640});     // attention projections, level 1 (64x64 latents)
  b->Args({4096, 640, 5120});    // GEGLU in-projection, level 1
  b->Args({4096, 2560, 640});    // feed-forward out, level 1
  b->Args({1024, 1280, 1280});   // attention projections, level 2
  b->Args({1024, 1280, 5120});   // level 2
  b->Args({1024, 1280, 10240});  // GEGLU in-projection, level 2
  b->Args({1024, 5120, 1280});   // feed-forward out, level 2
  b->Args({154, 2048, 640});     // cross-attention k/v from the 77-token text, batch 2
  b->Args({154, 1280, 5120});    // text encoder 2 MLP
  // 512x512 under CFG (batch 2): level 1 has 2x1024 tokens of 640 channels, level 2 2x256 of 1280
  b->Args({2048, 640, 1920});    // fused q/k/v, level 1
  b->Args({2048, 640, 5120});    // GEGLU in-projection, level 1
  b->Args({2048, 2560, 640});    // feed-forward out, level 1
  b->Args({512, 1280, 3840});    // fused q/k/v, level 2
  b->Args({512, 1280, 1280});    // attention out, level 2
  b->Args({512, 1280, 10240});   // GEGLU in-projection, level 2
  b->Args({512, 5120, 1280});    // feed-forward out, level 2
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
}

BENCHMARK_CAPTURE(BM_Linear, openblas, GemmLibrary::OpenBlas)->Apply(linear_shapes);
BENCHMARK_CAPTURE(BM_Linear, onednn, GemmLibrary::OneDnn)->Apply(linear_shapes);

// NHWC 3x3 (or 1x1) convolution, batch 1.
void BM_Conv2d(benchmark::State& state) {
  const int64_t h = state.range(0), ci = state.range(1), co = state.range(2), k = state.range(3), stride = state.range(4);
  auto geometry = Conv2dGeometry::symmetric(co, ci, k, stride, k / 2);
  auto x = random_floats(static_cast<size_t>(h * h * ci), 6);
  auto w = random_floats(static_cast<size_t>(co * ci * k * k), 7);
  auto b = random_floats(static_cast<size_t>(co), 8);
  auto conv = PackedConv2d::pack(w.data(), b.data(), geometry, h, h);
  const int64_t oh = geometry.out_height(h);
  std::vector<float> y(static_cast<size_t>(oh * oh * co));
  for (auto _ : state) {
    conv.forward(x.data(), 1, h, h, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  report(state, 2.0 * static_cast<double>(oh) * oh * co * ci * k * k);
}

BENCHMARK(BM_Conv2d)
    ->ArgNames({"HW", "Cin", "Cout", "k", "stride"})
    ->Args({128, 320, 320, 3, 1})   // UNet level 0 at 1024x1024
    ->Args({64, 640, 640, 3, 1})    // UNet level 1
    ->Args({32, 1280, 1280, 3, 1})  // UNet level 2
    ->Args({64, 1280, 640, 1, 1})   // skip shortcut 1x1
    ->Args({128, 320, 320, 3, 2})   // downsampler
    ->Args({256, 512, 512, 3, 1})   // VAE decoder level at 512x512 output
    ->Args({512, 256, 256, 3, 1})   // VAE decoder at full 512x512
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(0.5);

// Attention on SDXL's shapes: the UNet's 64-dim heads at batch 2 (classifier-free guidance),
// the VAE's single 512-dim head at batch 1; f32 and bf16 (AttentionShape::precision).
void BM_Attention(benchmark::State& state) {
  AttentionShape s;
  s.q_len = state.range(0);
  s.kv_len = state.range(1);
  s.heads = state.range(2);
  s.head_dim = state.range(3);
  s.batch = s.head_dim == 64 ? 2 : 1;
  s.precision = state.range(4) ? sdxl::Precision::BF16 : sdxl::Precision::F32;
  const int64_t width = s.heads * s.head_dim;
  s.q_stride = s.k_stride = s.v_stride = s.out_stride = width;
  auto q = random_floats(static_cast<size_t>(s.batch * s.q_len * width), 9);
  auto kv = random_floats(static_cast<size_t>(s.batch * s.kv_len * width), 10);
  std::vector<float> out(q.size());
  for (auto _ : state) {
    attention(q.data(), kv.data(), kv.data(), out.data(), s);
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 4.0 * static_cast<double>(s.batch * s.q_len) * static_cast<double>(s.kv_len * width);
  report(state, flops);
  // Against the loop peak of the arithmetic it ran in, as sdxl-bench's attn_*_frac fields.
  const double own_peak = s.precision == sdxl::Precision::BF16 && g_bf16_flops > 0 ? g_bf16_flops : g_fma_flops;
  state.counters["of_loop_peak"] = benchmark::Counter(flops / own_peak, benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_Attention)
    ->ArgNames({"q", "kv", "heads", "dim", "bf16"})
    ->ArgsProduct({{4096}, {4096}, {10}, {64}, {0, 1}})  // self-attention, level 1 at 1024x1024
    ->ArgsProduct({{1024}, {1024}, {20}, {64}, {0, 1}})  // level 2 at 1024x1024 (level 1 at 512x512: 10 heads)
    ->ArgsProduct({{4096}, {77}, {10}, {64}, {0, 1}})    // cross-attention to the text
    ->ArgsProduct({{1024}, {77}, {10}, {64}, {0, 1}})    // level 1 at 512x512: cross-attention
    ->ArgsProduct({{256}, {256}, {20}, {64}, {0, 1}})    // level 2 at 512x512: self- and cross-attention
    ->ArgsProduct({{256}, {77}, {20}, {64}, {0, 1}})
    ->ArgsProduct({{4096}, {4096}, {1}, {512}, {0, 1}})  // the VAE's mid block at 512x512
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(0.5);

// GroupNorm + SiLU on the VAE decoder's and the UNet's largest activations: memory-bound, so
// GB/s of the least traffic it needs (the input read once, the output written once) against
// the machine's triad bandwidth (sdxl-bench's Machine line).
void BM_GroupNormSilu(benchmark::State& state) {
  const int64_t batch = state.range(0), side = state.range(1), channels = state.range(2);
  const int64_t pixels = side * side;
  auto x = random_floats(static_cast<size_t>(batch * pixels * channels), 11);
  auto gamma = random_floats(static_cast<size_t>(channels), 12), beta = random_floats(static_cast<size_t>(channels), 13);
  std::vector<float> out(x.size());
  for (auto _ : state) {
    group_norm_nhwc(x.data(), out.data(), batch, pixels, channels, 32, gamma.data(), beta.data(), 1e-6f, true);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GB/s"] = benchmark::Counter(8.0 * static_cast<double>(x.size()) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_GroupNormSilu)
    ->ArgNames({"batch", "side", "channels"})
    ->Args({1, 512, 128})  // VAE decoder, last level at 512x512
    ->Args({1, 256, 256})
    ->Args({1, 128, 512})
    ->Args({2, 64, 320})  // UNet level 1 at 512x512, batch 2
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(0.5);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const double openblas = time_square_sgemm(GemmLibrary::OpenBlas, 2048);
  const double onednn = time_square_sgemm(GemmLibrary::OneDnn, 2048);
  g_peak_flops = std::max(openblas, onednn);
  g_fma_flops = fma_loop_flops(sdxl::num_threads(), 100'000'000, 5);
  g_bf16_flops = bf16_dot_loop_flops(sdxl::num_threads(), 100'000'000, 5);
  std::printf("register loops: FMA %.1f GFLOP/s, vdpbf16ps %.1f GFLOP/s (of_loop_peak: attention against its own)\n",
              g_fma_flops * 1e-9, g_bf16_flops * 1e-9);
  std::printf("threads: %d\n", sdxl::num_threads());
  std::printf("practical peak (square SGEMM 2048^3): OpenBLAS %.1f GFLOP/s, oneDNN %.1f GFLOP/s -> peak %.1f\n",
              openblas * 1e-9, onednn * 1e-9, g_peak_flops * 1e-9);
  std::printf("of_peak below = achieved / that peak\n\n");
  std::fflush(stdout);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

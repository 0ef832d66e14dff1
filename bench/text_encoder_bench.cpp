// Text encoding with the real-size SDXL encoders (CLIP ViT-L and OpenCLIP ViT-bigG, real
// configs, seeded random weights): one prompt pair under classifier-free guidance, i.e. both
// encoders on a batch of 2 sequences of 77 tokens, as the pipeline runs them.
//
//   build/bench/text_encoder_bench [repeats]
#include <cstdio>
#include <string>

#include "bench_support.h"
#include "core/threads.h"
#include "io/model_configs.h"
#include "models/clip/clip_text_model.h"

using namespace sdxl;

namespace {

// Multiply-adds x 2 of a forward over `tokens` tokens through `layers` layers.
double clip_flops(const io::ClipTextConfig& c, int64_t batch, int64_t length, int64_t layers, bool projection) {
  const double tokens = static_cast<double>(batch * length), h = static_cast<double>(c.hidden_size);
  const double ff = static_cast<double>(c.intermediate_size);
  double per_layer = 2.0 * tokens * (4.0 * h * h + 2.0 * h * ff);            // q, k, v, out; fc1, fc2
  per_layer += 2.0 * 2.0 * static_cast<double>(batch) * length * length * h;  // scores and weighted sum
  double total = per_layer * static_cast<double>(layers);
  if (projection) total += 2.0 * static_cast<double>(batch) * h * static_cast<double>(c.projection_dim);
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::stoi(argv[1]) : 3;
  const auto real = bench::reference_dir() / "real/stable-diffusion-xl-base-1.0";
  const auto config1 = io::load_clip_text_config(real / "text_encoder/config.json");
  const auto config2 = io::load_clip_text_config(real / "text_encoder_2/config.json");

  const double peak = bench::gemm_peak_flops();

  const int64_t batch = 2, length = 77;
  std::vector<int32_t> ids(static_cast<size_t>(batch * length), 49407);
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < 12; ++i) ids[static_cast<size_t>(b * length + i)] = i == 0 ? 49406 : 320 + static_cast<int32_t>(i + b);
  // The pipeline needs the penultimate layer of encoder 1 (its last layer is skipped) and all of encoder 2.
  const int64_t layers1 = config1.num_hidden_layers - 1;
  const double flops = clip_flops(config1, batch, length, layers1, false) +
                       clip_flops(config2, batch, length, config2.num_hidden_layers, true);
  std::printf("| precision | threads | GEMM peak (f32) GFLOP/s | build (random weights) s | encode pair s | GFLOP | GFLOP/s | of f32 peak |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (auto precision : {ops::Precision::F32, ops::Precision::BF16}) {
    auto t0 = std::chrono::steady_clock::now();
    models::RandomWeights weights1(1), weights2(2);
    weights1.set_precision(precision);
    weights2.set_precision(precision);
    auto te1 = models::ClipTextModel::load(config1, weights1);
    auto te2 = models::ClipTextModel::load(config2, weights2);
    const double load_seconds = bench::seconds_since(t0);
    Arena arena;
    double best = 1e30;
    for (int r = 0; r < repeats + 1; ++r) {  // the first run creates the oneDNN primitives: not counted
      arena.reset();
      auto start = std::chrono::steady_clock::now();
      te1.forward(arena, ids, batch, layers1);
      te2.forward(arena, ids, batch);
      if (r > 0) best = std::min(best, bench::seconds_since(start));
    }
    std::printf("| %s | %d | %.1f | %.1f | %.3f | %.1f | %.1f | %.2f |\n", precision == ops::Precision::F32 ? "fp32" : "bf16",
                num_threads(), peak * 1e-9, load_seconds, best, flops * 1e-9, flops / best * 1e-9, flops / best / peak);
    std::fflush(stdout);
  }
  return 0;
}

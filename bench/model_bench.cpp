// The real-size SDXL UNet and VAE (real configs, seeded random weights): one UNet forward with
// classifier-free guidance (batch 2) at 64x64 latents (512x512 images) and a VAE decode to
// 512x512, with achieved GFLOP/s over the GEMM peak measured in the same run. FLOPs are those
// of every linear, convolution and attention executed, counted from their shapes.
//
//   build/bench/model_bench [--latent 64] [--batch 2] [--repeats 1] [--skip-vae] [--skip-unet] [--bf16]
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "bench_support.h"
#include "core/threads.h"
#include "io/model_configs.h"
#include "models/unet/unet.h"
#include "models/vae/autoencoder_kl.h"
#include "ops.h"

using namespace sdxl;

namespace {

double peak_rss_gib() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);
}

Tensor random_tensor(const Shape& shape, uint32_t seed, float scale) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

struct Timing {
  double seconds, flops;
};

template <typename Fn>
Timing time_best(int repeats, Arena& arena, Fn fn) {
  fn();  // the first run creates and caches the oneDNN primitives for these shapes
  arena.reset();
  Timing best{1e30, 0};
  for (int r = 0; r < repeats; ++r) {
    ops::reset_flop_count();
    auto start = std::chrono::steady_clock::now();
    fn();
    const double s = bench::seconds_since(start);
    arena.reset();
    if (s < best.seconds) best = {s, ops::flop_count()};
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t latent = 64, batch = 2;
  int repeats = 1;
  bool skip_vae = false, skip_unet = false, bf16 = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--latent" && i + 1 < argc) latent = std::stoll(argv[++i]);
    else if (a == "--batch" && i + 1 < argc) batch = std::stoll(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::stoi(argv[++i]);
    else if (a == "--skip-vae") skip_vae = true;
    else if (a == "--skip-unet") skip_unet = true;
    else if (a == "--bf16") bf16 = true;
  }
  const auto real = bench::reference_dir() / "real/stable-diffusion-xl-base-1.0";
  const double peak = bench::gemm_peak_flops();
  std::printf("threads %d, GEMM peak %.1f GFLOP/s, latents %lldx%lld (image %lldx%lld)\n\n", num_threads(), peak * 1e-9,
              static_cast<long long>(latent), static_cast<long long>(latent), static_cast<long long>(latent * 8),
              static_cast<long long>(latent * 8));
  std::printf("| component | build s | run s | GFLOP | GFLOP/s | of peak | peak RSS GiB |\n|---|---|---|---|---|---|---|\n");

  if (!skip_unet) {
    auto config = io::load_unet_config(real / "unet/config.json");
    auto t0 = std::chrono::steady_clock::now();
    models::RandomWeights weights(7);
    if (bf16) weights.set_precision(ops::Precision::BF16);
    auto unet = models::UNet2DConditionModel::load(config, weights);
    const double build = bench::seconds_since(t0);
    Tensor sample = random_tensor(Shape{batch, 4, latent, latent}, 1, 1.0f);
    Tensor context = random_tensor(Shape{batch, 77, config.cross_attention_dim[0]}, 2, 1.0f);
    Tensor text_embeds = random_tensor(Shape{batch, 1280}, 3, 1.0f);
    Tensor time_ids = Tensor::empty(Shape{batch, 6}, DType::F32);
    const float ids[6] = {static_cast<float>(latent * 8), static_cast<float>(latent * 8), 0, 0,
                          static_cast<float>(latent * 8), static_cast<float>(latent * 8)};
    for (int64_t b = 0; b < batch; ++b) std::memcpy(time_ids.data<float>() + b * 6, ids, sizeof ids);
    Arena arena;
    auto t = time_best(repeats, arena, [&] { unet.forward(arena, sample, 500.0f, context, text_embeds, time_ids); });
    std::printf("| UNet step (batch %lld)%s | %.1f | %.2f | %.0f | %.1f | %.2f | %.1f |\n", static_cast<long long>(batch),
                bf16 ? ", bf16" : "", build, t.seconds, t.flops * 1e-9, t.flops / t.seconds * 1e-9, t.flops / t.seconds / peak, peak_rss_gib());
    std::fflush(stdout);
  }
  if (!skip_vae) {
    auto config = io::load_vae_config(real / "vae/config.json");
    auto t0 = std::chrono::steady_clock::now();
    models::RandomWeights weights(8);
    if (bf16) weights.set_precision(ops::Precision::BF16);
    auto vae = models::AutoencoderKL::load(config, weights);
    const double build = bench::seconds_since(t0);
    Tensor latents = random_tensor(Shape{1, 4, latent, latent}, 4, 1.0f);
    Arena arena;
    auto t = time_best(repeats, arena, [&] { vae.decode(arena, latents); });
    std::printf("| VAE decode%s | %.1f | %.2f | %.0f | %.1f | %.2f | %.1f |\n", bf16 ? ", bf16" : "", build, t.seconds, t.flops * 1e-9,
                t.flops / t.seconds * 1e-9, t.flops / t.seconds / peak, peak_rss_gib());
    Tensor image = random_tensor(Shape{1, 3, latent * 8, latent * 8}, 5, 0.5f);
    auto e = time_best(repeats, arena, [&] { vae.encode(arena, image); });
    std::printf("| VAE encode%s | | %.2f | %.0f | %.1f | %.2f | %.1f |\n", bf16 ? ", bf16" : "", e.seconds, e.flops * 1e-9,
                e.flops / e.seconds * 1e-9, e.flops / e.seconds / peak, peak_rss_gib());
  }
  return 0;
}

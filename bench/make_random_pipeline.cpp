// Writes a real-size SDXL pipeline folder (diffusers layout, real configs, seeded random
// weights) for measuring loading, the CLI and whole generations without the real weights.
//
//   sdxl-random-pipeline OUT_DIR [--refiner] [--fp32] [--seed N]
//
// fp16 files (the "fp16" variant, as on the hub: ~6.9 GB for the base) unless --fp32 (~14 GB).
#include <cstdio>
#include <string>

#include "bench_support.h"
#include "core/error.h"
#include "random_pipeline.h"

int main(int argc, char** argv) {
  sdxl::bench::RandomPipelineSpec spec;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--refiner") spec.refiner = true;
    else if (a == "--fp32") spec.dtype = sdxl::DType::F32;
    else if (a == "--seed" && i + 1 < argc) spec.seed = std::stoull(argv[++i]);
    else if (!a.empty() && a[0] != '-' && out.empty()) out = a;
    else {
      std::fprintf(stderr, "usage: sdxl-random-pipeline OUT_DIR [--refiner] [--fp32] [--seed N]\n");
      return 2;
    }
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: sdxl-random-pipeline OUT_DIR [--refiner] [--fp32] [--seed N]\n");
    return 2;
  }
  try {
    sdxl::bench::write_random_pipeline(sdxl::bench::reference_dir(), out, spec);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::printf("%s\n", out.c_str());
  return 0;
}

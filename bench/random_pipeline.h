// A real-size SDXL pipeline folder made of seeded random weights: the real configs and the
// real checkpoints' tensor names and shapes (sdxl-ref's manifests), in the diffusers layout, so
// that loading, the CLI and whole generations can be measured without the real weights.
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/dtype.h"

namespace sdxl::bench {

struct RandomPipelineSpec {
  bool refiner = false;       // stable-diffusion-xl-refiner-1.0 instead of the base
  DType dtype = DType::F16;   // F16: *.fp16.safetensors (the "fp16" variant); F32: plain files
  uint64_t seed = 0;
};

// Writes the folder `out` (created; an existing folder is completed, files already present are
// kept). `reference`: the sdxl-ref directory with real/ and tokenizer/.
void write_random_pipeline(const std::filesystem::path& reference, const std::filesystem::path& out,
                           const RandomPipelineSpec& spec);

// The real-size SDXL 1.0 base as one single-file checkpoint in the original Stability layout
// (the keys and shapes of sd_xl_base_1.0.safetensors, from sdxl-ref's manifests), fp16, random.
void write_random_single_file(const std::filesystem::path& reference, const std::filesystem::path& out, uint64_t seed = 1);

// A real-size tiny autoencoder folder (madebyollin/taesdxl's structure: 64 channels, blocks
// [1, 3, 3, 3] / [3, 3, 3, 1]) of seeded random weights, in the diffusers AutoencoderTiny layout.
void write_random_taesd(const std::filesystem::path& out, uint64_t seed = 3);

}  // namespace sdxl::bench

// The one set of limits on a generation request, applied by the engine to every call whichever
// front end it came from (front ends do not restate them: sdxl.h publishes them, and an error
// names the parameter at fault), and the estimate of the memory a request needs, so that one
// that cannot fit is refused up front with a message saying how much it needs instead of
// failing (or swapping) half-way.
#pragma once

#include <string>

#include "pipeline/request/generate_request.h"

namespace sdxl::pipeline {

struct RequestLimits {
  static constexpr int64_t kMinSide = 64, kMaxSide = 4096;  // pixels, multiples of the VAE scale
  static constexpr int64_t kMaxSteps = 1000;
  static constexpr int64_t kMaxImages = 64;  // per call: prompts x images per prompt
  static constexpr double kMaxGuidance = 100.0;
  static constexpr int64_t kMaxClipSkip = 11;     // layers skipped: CLIP ViT-L has 12, the penultimate is the default
  static constexpr size_t kMaxLoras = 64;        // per call: the list and the prompt's tags, one per file
  static constexpr double kMaxLoraWeight = 10.0;  // |weight|, in the list and in tags
};

// Throws InvalidArgument naming the first value out of bounds (and, as Error::parameter, the
// sdxl_generate_params member it came from). `scale`: the VAE's (8). `parameter`: the member the
// size came from; null: "width" or "height", whichever is out of bounds.
void check_size(int64_t width, int64_t height, int64_t scale, const char* what, const char* parameter = nullptr);
void check_request(const GenerateRequest& request, int64_t scale);

// The memory-relevant facts of a loaded (or loadable) model set, from its configs and the sizes
// of its weights: no weights need be read to know them.
struct ModelFootprint {
  double text_encoders_gib = 0, unet_gib = 0, vae_gib = 0;  // weights as computed (precision applied)
  int64_t unet_channels = 320;  // block_out_channels[0]: activation size per pixel scales with it
  int64_t vae_channels = 512;   // the decoder's widest block
  bool loaded = false;          // the weights are resident already (a warm engine)
};

// What a request would take, beyond what is resident already.
struct MemoryEstimate {
  double weights_gib = 0;      // weights still to load at the peak phase
  double activations_gib = 0;  // the peak phase's activations
  double available_gib = -1;   // MemAvailable; -1 where unknown (then nothing is refused)
  double needed_gib() const { return weights_gib + activations_gib; }
  bool fits() const { return available_gib < 0 || needed_gib() <= available_gib; }
  std::string describe() const;  // "about X GiB (weights A, activations B) of which W are available"
};

// `one_shot`: models load phase by phase and leave before the next (the CLI); else all stay.
MemoryEstimate estimate_memory(const ModelFootprint& model, const GenerateRequest& request, int64_t images,
                               bool one_shot);

}  // namespace sdxl::pipeline

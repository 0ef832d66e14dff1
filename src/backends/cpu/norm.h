// Normalisations on f32. `out` may alias `in`.
#pragma once

#include <cstdint>

namespace sdxl::cpu {

// GroupNorm over channels-last activations x [N, HW, C]: C is split into `groups` contiguous
// groups, each normalised over (HW, C/groups), then scaled by gamma[C] and shifted by beta[C];
// `fuse_silu` applies SiLU to the result (the ResnetBlock2D / norm_out pattern).
void group_norm_nhwc(const float* in, float* out, int64_t batch, int64_t pixels, int64_t channels, int64_t groups,
                     const float* gamma, const float* beta, float eps, bool fuse_silu);

// LayerNorm over the last axis: x [rows, C].
void layer_norm(const float* in, float* out, int64_t rows, int64_t channels, const float* gamma, const float* beta,
                float eps);

}  // namespace sdxl::cpu

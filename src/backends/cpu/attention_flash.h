// Flash-style attention for the head sizes SDXL runs most: 64 (every attention of the UNet and
// the text encoders) and 512 (the VAE's single-head mid-block attention). Per block of 64
// queries, the keys are visited in blocks of 64 with a running maximum and sum per row (online
// softmax): the scores of a block stay in L1, and K and V are read straight from the
// projections' rows instead of being packed by a GEMM library for every query block.
//
// Two arithmetics: f32 throughout, or bf16 (AttentionShape::precision): Q, K, V and the
// probabilities rounded to bf16 and multiplied with AVX512-BF16 dot products, accumulated in f32,
// the softmax statistics (running maximum and sum) in f32. AVX-512 builds only; attention() falls
// back to GEMMs elsewhere, and to the f32 kernel where the CPU has no AVX512-BF16.
#pragma once

#include "backends/cpu/attention.h"

namespace sdxl::cpu {

// Whether attention_flash runs here for this shape (its head size, the build's ISA).
bool attention_flash_available(const AttentionShape& shape);
// Whether the bf16 kernel exists in this build (AVX512-BF16).
bool attention_flash_bf16_built();
void attention_flash(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape);

}  // namespace sdxl::cpu

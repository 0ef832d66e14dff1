// Flash-style attention for 64-dimension heads, the head size of every attention in SDXL's
// UNet and text encoders. Per block of 64 queries, the keys are visited in blocks of 64 with a
// running maximum and sum per row (online softmax): the scores of a block stay in L1, and K and
// V are read straight from the projections' rows instead of being packed by a GEMM library for
// every query block. AVX-512 builds only; attention() falls back to GEMMs elsewhere.
#pragma once

#include "backends/cpu/attention.h"

namespace sdxl::cpu {

// Whether attention_d64 runs here for this shape.
bool attention_d64_available(const AttentionShape& shape);
void attention_d64(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape);

}  // namespace sdxl::cpu

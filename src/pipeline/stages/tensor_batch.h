// Batch and sequence plumbing of prompt embeddings, into owned tensors.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace sdxl::pipeline {

// [B, L, Ha] ++ [B, L, Hb] along the last axis (`a` may be undefined: then `b`).
Tensor concat_last(const Tensor& a, const Tensor& b);
// [B, L1, H] ++ [B, L2, H] ++ ... along the token axis.
Tensor concat_tokens(const std::vector<Tensor>& parts);
// Each batch entry repeated n times in a row (diffusers' repeat + view).
Tensor repeat_each(const Tensor& t, int64_t n);
// The whole batch repeated up to `batch` rows (diffusers' torch.cat([x] * n)); `batch` must be a
// multiple of t's.
Tensor tile_batch(const Tensor& t, int64_t batch);

}  // namespace sdxl::pipeline

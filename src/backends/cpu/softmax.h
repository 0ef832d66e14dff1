// Row-wise softmax over the last axis of x [rows, cols]. `out` may alias `in`.
#pragma once

#include <cstdint>

namespace sdxl::cpu {

void softmax(const float* in, float* out, int64_t rows, int64_t cols);
// One row, single-threaded: the building block the attention kernel uses inside its own team.
void softmax_row(const float* in, float* out, int64_t cols);

}  // namespace sdxl::cpu

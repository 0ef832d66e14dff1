// Softmax over one row. `out` may alias `in`.
#pragma once

#include <cstdint>

namespace sdxl::cpu {

// One row, single-threaded: the building block the attention kernel uses inside its own team.
void softmax_row(const float* in, float* out, int64_t cols);

}  // namespace sdxl::cpu

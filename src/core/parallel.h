// parallel_for: the one way kernels split a loop over the OpenMP team.
//
// Small loops run inline rather than through `#pragma omp parallel if (false)`: libgomp builds
// (and mallocs) a one-thread team for every such region, which would break the rule that a
// denoising step takes nothing from the system allocator.
#pragma once

#include <cstdint>

namespace sdxl {

template <typename Body>
void parallel_for(int64_t count, bool parallel, Body&& body) {
  if (!parallel || count < 2) {
    for (int64_t i = 0; i < count; ++i) body(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) body(i);
}

}  // namespace sdxl

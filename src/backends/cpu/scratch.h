// Per-thread scratch memory that only grows: after the first call at the largest size, kernels
// take nothing from the system allocator (the no-allocation rule of the denoising loop).
#pragma once

#include <cstddef>
#include <vector>

namespace sdxl::cpu {

// Returns at least `count` elements of the calling thread's buffer number `slot` (0..7) for T.
template <typename T>
T* thread_scratch(int slot, size_t count) {
  static thread_local std::vector<T> buffers[8];
  std::vector<T>& buffer = buffers[slot];
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

}  // namespace sdxl::cpu

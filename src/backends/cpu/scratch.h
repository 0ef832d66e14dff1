// Per-thread scratch memory that only grows: after the first call at the largest size, kernels
// take nothing from the system allocator (the no-allocation rule of the denoising loop).
#pragma once

#include <atomic>
#include <cstddef>
#include <vector>

namespace sdxl::cpu {

// Bumped by release_scratch(): each thread's buffers shrink back at its next request.
inline std::atomic<unsigned> scratch_epoch{0};

// Returns at least `count` elements of the calling thread's buffer number `slot` (0..7) for T.
template <typename T>
T* thread_scratch(int slot, size_t count) {
  static thread_local std::vector<T> buffers[8];
  // Per slot: a release between two requests of one op must not free the other slot's buffer.
  static thread_local unsigned epochs[8] = {};
  std::vector<T>& buffer = buffers[slot];
  const unsigned epoch = scratch_epoch.load(std::memory_order_relaxed);
  if (epochs[slot] != epoch) {
    epochs[slot] = epoch;
    std::vector<T>().swap(buffer);
  }
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// Frees the calling thread's scratch and oneDNN scratchpad, and lets every other thread's shrink
// at its next request: after a large request, a long-lived process need not keep that peak.
void release_scratch();

}  // namespace sdxl::cpu

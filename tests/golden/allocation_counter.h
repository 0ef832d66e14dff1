// A counting hook on the system allocator, for tests that check a code path allocates nothing:
// the allocations of the thread that starts counting and of the OpenMP team it runs.
// The test binary that includes allocation_counter.cpp interposes malloc and friends (and so
// operator new, which calls malloc) and forwards to glibc's own implementations.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sdxl::test {

struct AllocationStats {
  uint64_t count = 0;    // all allocations
  uint64_t bytes = 0;
  uint64_t largest = 0;
  // Made with libdnnl on the call stack (oneDNN's execute() builds a small argument map on
  // every call through its public API; nothing of ours can avoid it).
  uint64_t in_onednn = 0;
  // Made by threads that neither started counting nor work in an OpenMP team (another
  // library's pool): reported, not in `count`.
  uint64_t other_threads = 0;
};

void start_counting_allocations();
AllocationStats stop_counting_allocations();

}  // namespace sdxl::test

#include "allocation_counter.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <omp.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* p, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void __libc_free(void* p);
}

namespace {

std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_count{0}, g_bytes{0}, g_largest{0}, g_in_onednn{0}, g_other_threads{0};
// The thread that started counting. Only its allocations and those of the OpenMP team working
// inside a parallel region count: a thread of another library's pool (OpenBLAS's, the test
// runner's) doing its own housekeeping on a loaded machine says nothing about our code path.
thread_local bool g_is_caller = false;

bool counted_thread() { return g_is_caller || omp_in_parallel(); }

// With SDXL_ALLOC_TRACE set, the first allocations' call stacks are printed (debugging aid).
thread_local bool g_in_trace = false;
std::atomic<int> g_traces{0};

bool called_from_onednn() {
  void* frames[32];
  const int n = backtrace(frames, 32);
  for (int i = 0; i < n; ++i) {
    Dl_info info;
    if (dladdr(frames[i], &info) && info.dli_fname && std::strstr(info.dli_fname, "libdnnl")) return true;
  }
  return false;
}

void record(size_t size) {
  if (!g_counting.load(std::memory_order_relaxed)) return;
  if (!counted_thread()) {
    g_other_threads.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!g_in_trace) {
    g_in_trace = true;  // backtrace and dladdr may allocate themselves: not counted
    if (called_from_onednn()) g_in_onednn.fetch_add(1, std::memory_order_relaxed);
    g_in_trace = false;
  } else {
    return;
  }
  if (std::getenv("SDXL_ALLOC_TRACE") && g_traces.fetch_add(1) < 40) {
    g_in_trace = true;
    void* frames[12];
    int n = backtrace(frames, 12);
    backtrace_symbols_fd(frames, n, 2);
    write(2, "----\n", 5);
    g_in_trace = false;
  }
  g_count.fetch_add(1, std::memory_order_relaxed);
  g_bytes.fetch_add(size, std::memory_order_relaxed);
  uint64_t largest = g_largest.load(std::memory_order_relaxed);
  while (size > largest && !g_largest.compare_exchange_weak(largest, size)) {
  }
}

}  // namespace

extern "C" {

void* malloc(size_t size) {
  record(size);
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  record(count * size);
  return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) {
  record(size);
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) {
  record(size);
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  record(size);
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  record(size);
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }

}  // extern "C"

namespace sdxl::test {

void start_counting_allocations() {
  g_count = 0;
  g_bytes = 0;
  g_largest = 0;
  g_in_onednn = 0;
  g_other_threads = 0;
  g_is_caller = true;
  void* warm[4];
  backtrace(warm, 4);  // loads the unwinder before counting starts
  g_counting = true;
}

AllocationStats stop_counting_allocations() {
  g_counting = false;
  g_is_caller = false;
  return {g_count.load(), g_bytes.load(), g_largest.load(), g_in_onednn.load(), g_other_threads.load()};
}

}  // namespace sdxl::test

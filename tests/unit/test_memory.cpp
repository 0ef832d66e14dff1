// Handing freed heap memory back to the system: the pipelines rely on it between phases (text
// encoders, UNet, VAE), or a process stays as large as its largest phase plus the freed pool.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/memory.h"

namespace sdxl {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizerAllocator = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizerAllocator = true;
#else
constexpr bool kSanitizerAllocator = false;
#endif
#else
constexpr bool kSanitizerAllocator = false;
#endif

TEST(Memory, FreedHeapGoesBackToTheSystem) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "malloc_trim is glibc's";
#endif
  if (kSanitizerAllocator) GTEST_SKIP() << "the sanitizer's allocator keeps freed memory in quarantine";
  ASSERT_GT(resident_gib(), 0.0);
  // 256 MiB in small blocks (heap, not mmap), the last one kept so the heap's top cannot shrink.
  std::vector<void*> blocks(65536);
  for (auto& b : blocks) {
    b = std::malloc(4096);
    std::memset(b, 1, 4096);
  }
  for (size_t i = 0; i + 1 < blocks.size(); ++i) std::free(blocks[i]);
  const double before = resident_gib();
  return_free_memory_to_system();
  const double after = resident_gib();
  std::free(blocks.back());
  EXPECT_LT(after, before - 0.15) << "resident " << before << " GiB before, " << after << " after";
}

}  // namespace
}  // namespace sdxl

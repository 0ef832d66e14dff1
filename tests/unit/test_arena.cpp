#include <gtest/gtest.h>

#include "core/arena.h"

namespace sdxl {
namespace {

// Simulates two passes of a model at the same shape: only the first may touch the system allocator.
void one_pass(Arena& arena) {
  for (int layer = 0; layer < 10; ++layer) {
    ArenaScope scope(arena);
    void* a = arena.allocate(1000 * (layer + 1));
    void* b = arena.allocate(333);
    ASSERT_NE(a, nullptr);
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(a) % Arena::kAlignment, 0u);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(b) % Arena::kAlignment, 0u);
  }
  arena.allocate(5000);  // an output kept until the pass ends
}

TEST(Arena, SecondPassAllocatesNothing) {
  Arena arena;
  one_pass(arena);
  const size_t after_first = arena.system_allocations();
  EXPECT_GT(after_first, 0u);
  arena.reset();  // grows the block to the high-water mark: one more allocation
  const size_t after_reset = arena.system_allocations();
  EXPECT_EQ(after_reset, after_first + 1);
  EXPECT_GE(arena.capacity(), arena.high_water());
  one_pass(arena);
  arena.reset();
  one_pass(arena);
  EXPECT_EQ(arena.system_allocations(), after_reset);
}

TEST(Arena, RewindReusesMemory) {
  Arena arena(4096);
  size_t mark = arena.mark();
  void* first = arena.allocate(100);
  arena.rewind(mark);
  void* second = arena.allocate(100);
  EXPECT_EQ(first, second);
  EXPECT_EQ(arena.system_allocations(), 1u);
}

TEST(Arena, OverflowChunksAreDistinctAndFreedOnRewind) {
  Arena arena(128);
  void* a = arena.allocate(100);
  size_t mark = arena.mark();
  void* b = arena.allocate(1000);  // does not fit: overflow chunk
  void* c = arena.allocate(1000);
  EXPECT_NE(a, b);
  EXPECT_NE(b, c);
  arena.rewind(mark);
  EXPECT_EQ(arena.used(), mark);
  EXPECT_EQ(arena.high_water(), 128u + 1024u + 1024u);
}

}  // namespace
}  // namespace sdxl

// The activation arena: a bump allocator reserved for the largest shape and reused every step.
//
// The first pass at a new shape may outgrow the reserved block; the excess then comes from
// overflow chunks while the arena records its high-water mark. The next reset() replaces block
// and chunks with one block of the high-water size, so every later pass at that shape takes
// nothing from the system allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sdxl {

class Arena {
 public:
  static constexpr size_t kAlignment = 64;  // a cache line and a full AVX-512 register

  explicit Arena(size_t reserve_bytes = 0);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* allocate(size_t bytes);
  // Stack discipline inside a pass: everything allocated after mark() is dropped by rewind().
  size_t mark() const { return used_; }
  void rewind(size_t mark);
  // Drops everything; grows the block to the high-water mark if the last pass overflowed.
  void reset();

  size_t used() const { return used_; }
  size_t capacity() const { return capacity_; }
  size_t high_water() const { return high_water_; }
  // How many times this arena has called the system allocator (for the no-allocation tests).
  size_t system_allocations() const { return system_allocations_; }

 private:
  struct Chunk {
    size_t logical_begin;  // the arena offset this chunk stands in for
    void* memory;
  };
  void* allocate_system(size_t bytes);

  uint8_t* block_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;  // logical offset: as if the block were large enough for everything
  size_t high_water_ = 0;
  std::vector<Chunk> overflow_;
  size_t system_allocations_ = 0;
};

// Rewinds the arena when leaving a scope: temporaries of a layer die with the layer.
class ArenaScope {
 public:
  explicit ArenaScope(Arena& arena) : arena_(arena), mark_(arena.mark()) {}
  ~ArenaScope() { arena_.rewind(mark_); }
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  Arena& arena_;
  size_t mark_;
};

}  // namespace sdxl

#include "core/arena.h"

#include <cstdlib>
#include <new>

#include "core/error.h"
#include "core/memory.h"

namespace sdxl {
namespace {

size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

Arena::Arena(size_t reserve_bytes) {
  if (reserve_bytes > 0) {
    capacity_ = round_up(reserve_bytes, kAlignment);
    block_ = static_cast<uint8_t*>(allocate_system(capacity_));
  }
}

Arena::~Arena() {
  rewind(0);
  std::free(block_);
}

void* Arena::allocate_system(size_t bytes) {
  void* p = std::aligned_alloc(kAlignment, round_up(bytes, kAlignment));
  if (!p) fail(ErrorCode::OutOfMemory, "[arena] cannot allocate ", bytes, " bytes of activations");
  ++system_allocations_;
  return p;
}

void* Arena::allocate(size_t bytes) {
  bytes = round_up(bytes == 0 ? 1 : bytes, kAlignment);
  size_t begin = used_;
  used_ += bytes;
  if (used_ > high_water_) high_water_ = used_;
  if (used_ <= capacity_) return block_ + begin;
  void* memory = allocate_system(bytes);
  overflow_.push_back({begin, memory});
  return memory;
}

void Arena::rewind(size_t mark) {
  while (!overflow_.empty() && overflow_.back().logical_begin >= mark) {
    std::free(overflow_.back().memory);
    overflow_.pop_back();
  }
  used_ = mark;
}

void Arena::reset() {
  rewind(0);
  if (high_water_ > capacity_) {
    std::free(block_);
    block_ = nullptr;
    capacity_ = 0;
    // The overflow chunks just freed would otherwise stay with the C allocator, beside the new
    // block: the first pass's memory twice.
    return_free_memory_to_system();
    block_ = static_cast<uint8_t*>(allocate_system(high_water_));
    capacity_ = high_water_;
  }
}

}  // namespace sdxl

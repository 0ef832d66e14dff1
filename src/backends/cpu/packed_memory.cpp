#include "backends/cpu/packed_memory.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "backends/cpu/dnnl_context.h"
#include "core/error.h"

namespace sdxl::cpu {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeFrom = size_t{4} << 20;
}  // namespace

std::shared_ptr<void> allocate_packed(size_t bytes) {
  const bool huge = bytes >= kHugeFrom;
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePage : 64, std::max<size_t>(bytes, 64)) != 0) p = nullptr;
  SDXL_CHECK(p, OutOfMemory, "[weights] cannot allocate ", bytes, " bytes for packed weights");
#ifdef MADV_HUGEPAGE
  // Whole huge pages only: the tail stays on small pages, so no layer holds up to 2 MB of zeros.
  if (huge) madvise(p, bytes / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice: ignored where THP is off
#endif
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

dnnl::memory packed_memory(const dnnl::memory::desc& desc, std::shared_ptr<void>& keep) {
  keep = allocate_packed(desc.get_size());
  return dnnl::memory(desc, dnnl_engine(), keep.get());
}

std::string describe_layout(const dnnl::memory::desc& desc) {
  // oneDNN 2.x descriptors are plain structs, zero-filled where unused.
  return std::string(reinterpret_cast<const char*>(&desc.data), sizeof(desc.data));
}

dnnl::memory borrowed_memory(const dnnl::memory::desc& desc, const void* data, const std::shared_ptr<const void>& owner,
                             std::shared_ptr<void>& keep) {
  keep = std::shared_ptr<void>(owner, const_cast<void*>(data));
  return dnnl::memory(desc, dnnl_engine(), keep.get());
}

void parallel_copy(void* dst, const void* src, size_t bytes) {
  constexpr size_t kChunk = size_t{1} << 20;
  const int64_t chunks = static_cast<int64_t>((bytes + kChunk - 1) / kChunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t begin = static_cast<size_t>(c) * kChunk;
    std::memcpy(static_cast<uint8_t*>(dst) + begin, static_cast<const uint8_t*>(src) + begin,
                std::min(kChunk, bytes - begin));
  }
}

}  // namespace sdxl::cpu

// Memory for packed weights. A model's packed weights are gigabytes written once: on 4 KB pages
// each page's first write is a fault, and those faults, not the copying, bounded packing and
// LoRA swaps. Large blocks are 2 MB aligned and advised as transparent huge pages (where the
// kernel allows them: /sys/kernel/mm/transparent_hugepage/enabled), and written by all threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <dnnl.hpp>

namespace sdxl::cpu {

// `bytes` of 64-byte aligned memory; from 4 MB up, 2 MB aligned with its whole 2 MB pages advised huge.
std::shared_ptr<void> allocate_packed(size_t bytes);

// A oneDNN memory of `desc` in such memory; `keep` holds it for as long as the memory is used.
dnnl::memory packed_memory(const dnnl::memory::desc& desc, std::shared_ptr<void>& keep);

// dst = src (bytes), split over the threads: first writes to fresh pages fault in parallel.
void parallel_copy(void* dst, const void* src, size_t bytes);

// The bytes of `desc` as oneDNN describes a layout (dims, data type, blocking), for comparing a
// cached packed layer with what this machine's primitives want now.
std::string describe_layout(const dnnl::memory::desc& desc);

// A oneDNN memory of `desc` over `data` owned by `owner` (a mapped cache file, read-only: packed
// weights are never written after packing); `keep` then holds `owner`.
dnnl::memory borrowed_memory(const dnnl::memory::desc& desc, const void* data, const std::shared_ptr<const void>& owner,
                             std::shared_ptr<void>& keep);

}  // namespace sdxl::cpu

// What a bug report needs to know about the CPU backend of this build and this machine.
#pragma once

#include <string>

namespace sdxl::cpu {

// Lines "name: value": the ISA our kernels were compiled for and the CPU's support of it, the
// ISA oneDNN dispatches to, the oneDNN and OpenBLAS versions, and the compute threads.
std::string backend_facts();

// What packed weights depend on besides their values, as text: the CPU (brand, CPUID signature,
// ISA), the kernels' compiled ISA, oneDNN's version and dispatch ISA, OpenBLAS's build, the
// threads (oneDNN may block weights per thread count). A packed-weight cache entry is keyed by it.
std::string packing_identity();

}  // namespace sdxl::cpu

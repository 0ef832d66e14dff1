// What a bug report needs to know about the CPU backend of this build and this machine.
#pragma once

#include <string>

namespace sdxl::cpu {

// Lines "name: value": the ISA our kernels were compiled for and the CPU's support of it, the
// ISA oneDNN dispatches to, the oneDNN and OpenBLAS versions, and the compute threads.
std::string backend_facts();

}  // namespace sdxl::cpu

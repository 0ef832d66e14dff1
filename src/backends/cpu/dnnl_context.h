// The process-wide oneDNN CPU engine and stream. oneDNN's Debian build uses OpenMP, so its
// primitives run on the same thread team as our kernels and OpenBLAS.
#pragma once

#include <dnnl.hpp>

namespace sdxl::cpu {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

}  // namespace sdxl::cpu

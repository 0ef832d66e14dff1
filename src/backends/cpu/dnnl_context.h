// The process-wide oneDNN CPU engine and stream. oneDNN's Debian build uses OpenMP, so its
// primitives run on the same thread team as our kernels and OpenBLAS.
#pragma once

#include <dnnl.hpp>

namespace sdxl::cpu {

dnnl::engine& dnnl_engine();
dnnl::stream& dnnl_stream();

// Points a primitive's source memory at `x` (count floats): directly for f32, or via a bf16
// copy (rounded to nearest even) in the calling thread's scratch for bf16 primitives.
void set_source(dnnl::memory& source, const float* x, size_t count, bool bf16);

// Points a primitive's user scratchpad at the calling thread's shared scratchpad, grown to
// `bytes`: primitives run one at a time, so one buffer of the largest size serves them all (a
// scratchpad per cached primitive added up to a gigabyte on the UNet at 1024x1024).
void set_scratchpad(dnnl::memory& scratchpad, size_t bytes);

// Executes through the C API with a caller-kept argument array, and waits.
void execute_primitive(const dnnl::primitive& primitive, const dnnl_exec_arg_t* args, int count);

}  // namespace sdxl::cpu

#include "backends/cpu/dnnl_context.h"

#include <cstdlib>

#include "backends/cpu/scratch.h"
#include "core/convert.h"
#include "core/error.h"

namespace sdxl::cpu {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  static dnnl::stream stream(dnnl_engine());
  return stream;
}

void set_source(dnnl::memory& source, const float* x, size_t count, bool bf16) {
  if (!bf16) {
    source.set_data_handle(const_cast<float*>(x));
    return;
  }
  uint16_t* staged = thread_scratch<uint16_t>(2, count);
  convert_f32_to_bf16(x, staged, count);
  source.set_data_handle(staged);
}

namespace {

// The calling thread's oneDNN scratchpad, shared by every primitive it executes.
struct ScratchpadBuffer {
  void* data = nullptr;
  size_t size = 0;
  unsigned epoch = 0;
  void release() {
    std::free(data);
    data = nullptr;
    size = 0;
  }
  ~ScratchpadBuffer() { release(); }
};
thread_local ScratchpadBuffer scratchpad_buffer;

}  // namespace

void set_scratchpad(dnnl::memory& scratchpad, size_t bytes) {
  ScratchpadBuffer& buffer = scratchpad_buffer;
  if (buffer.epoch != scratch_epoch.load(std::memory_order_relaxed)) {
    buffer.epoch = scratch_epoch.load(std::memory_order_relaxed);
    buffer.release();
  }
  if (bytes == 0) return;
  if (buffer.size < bytes) {
    buffer.release();
    buffer.data = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!buffer.data) fail(ErrorCode::OutOfMemory, "[onednn] cannot allocate a scratchpad of ", bytes, " bytes");
    buffer.size = bytes;
  }
  scratchpad.set_data_handle(buffer.data);
}

void release_scratch() {
  scratch_epoch.fetch_add(1, std::memory_order_relaxed);
  // Every thread of this caller's team frees its own buffers now (a request of 0 elements after
  // the epoch moved); other callers' threads free theirs at their next request.
#pragma omp parallel
  {
    for (int slot = 0; slot < 8; ++slot) {
      thread_scratch<float>(slot, 0);
      thread_scratch<double>(slot, 0);
      thread_scratch<uint16_t>(slot, 0);
    }
    scratchpad_buffer.epoch = scratch_epoch.load(std::memory_order_relaxed);
    scratchpad_buffer.release();
  }
}

void execute_primitive(const dnnl::primitive& primitive, const dnnl_exec_arg_t* args, int count) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive.get(), dnnl_stream().get(), count, args),
                          "could not execute a primitive");
  dnnl::error::wrap_c_api(dnnl_stream_wait(dnnl_stream().get()), "could not wait on a stream");
}

}  // namespace sdxl::cpu

#include "backends/cpu/dnnl_context.h"

#include "backends/cpu/scratch.h"
#include "core/convert.h"

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

void execute_primitive(const dnnl::primitive& primitive, const dnnl_exec_arg_t* args, int count) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive.get(), dnnl_stream().get(), count, args),
                          "could not execute a primitive");
  dnnl::error::wrap_c_api(dnnl_stream_wait(dnnl_stream().get()), "could not wait on a stream");
}

}  // namespace sdxl::cpu

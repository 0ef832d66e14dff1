#include "backends/cpu/dnnl_context.h"

namespace sdxl::cpu {

dnnl::engine& dnnl_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_stream() {
  static dnnl::stream stream(dnnl_engine());
  return stream;
}

void execute_primitive(const dnnl::primitive& primitive, const dnnl_exec_arg_t* args, int count) {
  dnnl::error::wrap_c_api(dnnl_primitive_execute(primitive.get(), dnnl_stream().get(), count, args),
                          "could not execute a primitive");
  dnnl::error::wrap_c_api(dnnl_stream_wait(dnnl_stream().get()), "could not wait on a stream");
}

}  // namespace sdxl::cpu

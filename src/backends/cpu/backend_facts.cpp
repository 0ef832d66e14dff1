#include "backends/cpu/backend_facts.h"

#include <cblas.h>
#include <cpuid.h>

#include <cstring>

#include <dnnl.hpp>
#include <sstream>

#include "backends/cpu/attention_flash.h"
#include "backends/cpu/throughput.h"
#include "core/threads.h"

namespace sdxl::cpu {
namespace {

// The ISA extensions the kernels were compiled with (SDXL_NATIVE: the build machine's).
std::string compiled_isa() {
  std::string isa = "x86-64";
#if defined(__AVX2__)
  isa += " AVX2";
#endif
#if defined(__FMA__)
  isa += " FMA";
#endif
#if defined(__F16C__)
  isa += " F16C";
#endif
#if defined(__AVX512F__)
  isa += " AVX-512";
#endif
#if defined(__AVX512BF16__)
  isa += " AVX512-BF16";
#endif
#if defined(__AVX512VNNI__)
  isa += " AVX512-VNNI";
#endif
  return isa;
}

std::string cpu_isa() {
  __builtin_cpu_init();
  std::string isa;
  auto add = [&](bool present, const char* name) {
    if (present) isa += isa.empty() ? name : std::string(" ") + name;
  };
  add(__builtin_cpu_supports("avx2"), "AVX2");
  add(__builtin_cpu_supports("fma"), "FMA");
  add(__builtin_cpu_supports("avx512f"), "AVX-512");
  add(__builtin_cpu_supports("avx512bf16"), "AVX512-BF16");
  add(__builtin_cpu_supports("avx512vnni"), "AVX512-VNNI");
  return isa.empty() ? "none of AVX2, AVX-512" : isa;
}

const char* onednn_isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41: return "SSE4.1";
    case dnnl::cpu_isa::avx: return "AVX";
    case dnnl::cpu_isa::avx2: return "AVX2";
    case dnnl::cpu_isa::avx2_vnni: return "AVX2-VNNI";
    case dnnl::cpu_isa::avx512_core: return "AVX-512";
    case dnnl::cpu_isa::avx512_core_vnni: return "AVX-512 VNNI";
    case dnnl::cpu_isa::avx512_core_bf16: return "AVX-512 BF16";
    case dnnl::cpu_isa::avx512_core_amx: return "AVX-512 AMX";
    default: return "other";
  }
}

std::string bf16_attention_fact() {
  if (!attention_flash_bf16_built()) return "no (no AVX512-BF16 kernel in this build)";
  try {
    return bf16_attention_pays() ? "yes under --precision bf16"
                                 : "no (bf16 dot products are no faster than f32 FMAs on this CPU)";
  } catch (const std::exception& e) {
    return e.what();  // a bad SDXL_BF16_ATTENTION
  }
}

// The processor's brand string (CPUID 0x80000002-4), e.g. "AMD EPYC 9R14 96-Core Processor".
std::string cpu_model_name() {
  unsigned regs[12] = {};
  for (unsigned i = 0; i < 3; ++i)
    if (!__get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2], &regs[4 * i + 3]))
      return "unknown";
  char brand[49] = {};
  std::memcpy(brand, regs, 48);
  std::string name = brand;
  name.erase(0, name.find_first_not_of(' '));
  return name;
}

// CPUID leaf 1's family, model and stepping: the brand string of a VM can hide them.
std::string cpu_signature() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return "unknown";
  return std::to_string(a);
}

// The libraries' versions and the threads: the last lines of both reports below.
std::string library_facts() {
  const dnnl_version_t* dnnl = dnnl_version();
  std::ostringstream out;
  out << "onednn: " << dnnl->major << "." << dnnl->minor << "." << dnnl->patch << " (" << dnnl->hash << "), ISA "
      << onednn_isa_name(dnnl::get_effective_cpu_isa()) << "\n";
  out << "openblas: " << openblas_get_config() << "\n";
  out << "threads: " << num_threads() << "\n";
  return out.str();
}

}  // namespace

std::string packing_identity() {
  std::ostringstream out;
  out << "cpu: " << cpu_model_name() << " (signature " << cpu_signature() << "; " << cpu_isa() << ")\n";
  out << "kernels: " << compiled_isa() << "\n";
  return out.str() + library_facts();
}

std::string backend_facts() {
  std::ostringstream out;
  out << "kernels: " << compiled_isa() << "\n";
  out << "cpu: " << cpu_isa() << "\n";
  out << "bf16: " << (__builtin_cpu_supports("avx512bf16") ? "native (AVX512-BF16)" : "emulated by oneDNN or unavailable")
      << "\n";
  out << "bf16 attention: " << bf16_attention_fact() << "\n";
  return out.str() + library_facts();
}

}  // namespace sdxl::cpu

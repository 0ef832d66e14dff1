// What this CPU's arithmetic units actually deliver, measured rather than assumed: the same
// ISA runs at different rates on different silicon (vdpbf16ps is twice the f32 FMA rate on
// Zen 4 and Zen 5, half of it on an Emerald Rapids Xeon), so a kernel choice that pays on one
// machine loses on another. Register-only loops: no memory traffic, no library.
#pragma once

#include <cstdint>

namespace sdxl::cpu {

// FLOP/s of independent vector FMA chains (AVX-512 when compiled for it, else AVX2+FMA, else
// scalar) on `threads` threads, best of `repeats` runs of `iterations` each.
double fma_loop_flops(int threads, int64_t iterations, int repeats);

// FLOP/s of independent vdpbf16ps chains (a multiply and an add per bf16 pair, f32
// accumulation) likewise; 0 where the build has no AVX512-BF16.
double bf16_dot_loop_flops(int threads, int64_t iterations, int repeats);

// Whether bf16 dot products outrun f32 FMAs here by enough (1.3x) for bf16 attention to pay:
// measured once per process on one thread (a few milliseconds). SDXL_BF16_ATTENTION=on|off
// overrides it (a run reproduced on another machine, the tests).
bool bf16_attention_pays();

}  // namespace sdxl::cpu

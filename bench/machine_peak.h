// The machine's limits, measured in the run that reports fractions of them: a register-only FMA
// loop (the floating-point peak), a register-only bf16 dot-product loop (AVX512-BF16's peak), a
// STREAM-like triad (the memory bandwidth the memory-bound ops live on), and large square SGEMMs
// (what a library reaches on a compute-bound matrix product).
#pragma once

namespace sdxl::bench {

// FLOP/s of independent vector FMA chains on `threads` threads (AVX-512 when compiled for it,
// else AVX2+FMA, else scalar), best of a few repeats.
double fma_peak_flops(int threads);

// FLOP/s of independent vdpbf16ps chains (each a multiply and an add per bf16 pair, fp32
// accumulation) on `threads` threads; 0 where the build has no AVX512-BF16.
double bf16_dot_peak_flops(int threads);

// Bytes/s of a[i] = b[i] + s * c[i] over float arrays far larger than the caches (STREAM's triad:
// 12 bytes an element, the write-allocate read not counted), best of a few repeats.
double triad_bytes_per_second(int threads);

}  // namespace sdxl::bench

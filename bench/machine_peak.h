// The machine's arithmetic limits, measured in the run that reports fractions of them: a
// register-only FMA loop (the floating-point peak) and large square SGEMMs (what a library
// reaches on a compute-bound matrix product).
#pragma once

namespace sdxl::bench {

// FLOP/s of independent vector FMA chains on `threads` threads (AVX-512 when compiled for it,
// else AVX2+FMA, else scalar), best of a few repeats.
double fma_peak_flops(int threads);

}  // namespace sdxl::bench

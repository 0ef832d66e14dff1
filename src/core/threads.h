// Thread settings: one OpenMP team serves our kernels, oneDNN and OpenBLAS (all OpenMP builds).
#pragma once

namespace sdxl {

void set_num_threads(int threads);  // <= 0 restores the default (all cores)
int num_threads();

}  // namespace sdxl

#include "core/threads.h"

#include <omp.h>

namespace sdxl {
namespace {
int g_default_threads = omp_get_max_threads();
}

void set_num_threads(int threads) { omp_set_num_threads(threads > 0 ? threads : g_default_threads); }

int num_threads() { return omp_get_max_threads(); }

}  // namespace sdxl

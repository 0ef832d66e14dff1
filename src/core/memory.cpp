#include "core/memory.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sdxl {

void return_free_memory_to_system() {
#if defined(__GLIBC__)
  // Also releases whole free pages inside the heaps (not only at their tops), in every arena.
  malloc_trim(0);
#endif
}

}  // namespace sdxl

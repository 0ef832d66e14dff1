// Handing freed memory back to the system. Models are freed whole (a gigabyte and more at a
// time) between the phases of a generation; the C allocator keeps much of it for reuse, so the
// process would stay as large as it ever was. After freeing a model, call this.
#pragma once

namespace sdxl {

void return_free_memory_to_system();

// This process's resident memory now and its peak so far, GiB (0 where /proc is not available).
double resident_gib();
double peak_resident_gib();
// The memory the system can give without swapping (MemAvailable), GiB; -1 where unknown.
double available_memory_gib();

}  // namespace sdxl

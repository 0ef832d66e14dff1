// libFuzzer entry point: see fuzz_server_targets.h.
#include "fuzz_server_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return sdxl::fuzz::server_request_bytes(data, size); }

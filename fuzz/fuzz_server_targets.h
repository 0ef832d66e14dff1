// The server's fuzz target body (kept apart from fuzz_targets.h: it links the public library,
// the others the internal one, and one process must not hold both).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sdxl::fuzz {

int server_request_bytes(const uint8_t* data, size_t size);  // a request body through every API's parser, and a queued job

}  // namespace sdxl::fuzz

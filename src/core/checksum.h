// A fast 64-bit checksum of bytes, for finding a damaged or altered file before trusting it
// (the packed-weight cache checks gigabytes at every load, so it runs at memory speed). Not
// cryptographic: it catches accidents (truncation, flipped bits, a partial copy), not an adversary.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sdxl {

// The checksum of `bytes` bytes at `data`: 1 MiB chunks hashed by all threads and combined in
// order, so the value does not depend on the thread count.
uint64_t checksum64(const void* data, size_t bytes);
// The same value by plain loops (what the vectorised kernel is tested against).
uint64_t checksum64_reference(const void* data, size_t bytes);

}  // namespace sdxl

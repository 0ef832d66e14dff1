#include "core/checksum.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace sdxl {
namespace {

constexpr size_t kChunk = size_t{1} << 20;
constexpr size_t kLanes = 8;
constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kKeys[kLanes] = {0xbe4ba423396cfeb8ull, 0x1cad21f72c81017cull, 0xdb979083e96dd4deull,
                                    0x1f67b3b7a4a44072ull, 0x78e5c0cc4ee679cbull, 0x2172ffcc7dd05a82ull,
                                    0x8e2443f7744608b8ull, 0x4c263a81e69035e0ull};

uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime1;
  return h ^ (h >> 32);
}

// Eight 64-bit lanes, each block word keyed and folded by a 32x32->64 product (one vector
// multiply per 64 bytes), the word itself added to the neighbouring lane so no input bit is
// lost to the product; the lanes are scrambled every KiB so long inputs do not cancel.
void accumulate(uint64_t acc[kLanes], const unsigned char* block) {
  uint64_t words[kLanes];
  std::memcpy(words, block, sizeof(words));
  for (size_t i = 0; i < kLanes; ++i) {
    const uint64_t keyed = words[i] ^ kKeys[i];
    acc[i] += (keyed & 0xffffffffull) * (keyed >> 32);
    acc[i ^ 1] += words[i];
  }
}

#if defined(__AVX512F__)
// The same arithmetic on one 512-bit register: 16 blocks between scrambles.
void accumulate_kib_avx512(uint64_t acc_out[kLanes], const unsigned char* data, size_t kib) {
  const __m512i keys = _mm512_loadu_si512(kKeys);
  const __m512i reversed_keys = _mm512_permutexvar_epi64(_mm512_set_epi64(0, 1, 2, 3, 4, 5, 6, 7), keys);
  const __m512i prime = _mm512_set1_epi64(static_cast<long long>(kPrime1));
  __m512i acc = _mm512_loadu_si512(acc_out);
  for (size_t k = 0; k < kib; ++k) {
    for (size_t b = 0; b < 16; ++b) {
      const __m512i words = _mm512_loadu_si512(data + (k * 16 + b) * 64);
      const __m512i keyed = _mm512_xor_si512(words, keys);
      acc = _mm512_add_epi64(acc, _mm512_mul_epu32(keyed, _mm512_srli_epi64(keyed, 32)));
      acc = _mm512_add_epi64(acc, _mm512_permutex_epi64(words, 0xB1));  // lanes 1,0,3,2: acc[i ^ 1] += words[i]
    }
    const __m512i folded = _mm512_xor_si512(_mm512_xor_si512(acc, _mm512_srli_epi64(acc, 47)), reversed_keys);
    acc = _mm512_mullo_epi64(folded, prime);
  }
  _mm512_storeu_si512(acc_out, acc);
}
#endif

void scramble(uint64_t acc[kLanes]) {
  for (size_t i = 0; i < kLanes; ++i) acc[i] = (acc[i] ^ (acc[i] >> 47) ^ kKeys[kLanes - 1 - i]) * kPrime1;
}

uint64_t chunk_hash(const unsigned char* data, size_t bytes, uint64_t index, bool vectorised) {
  uint64_t acc[kLanes];
  for (size_t i = 0; i < kLanes; ++i) acc[i] = kKeys[i] ^ (index * kPrime2);
  constexpr size_t kBlock = kLanes * sizeof(uint64_t);
  const size_t blocks = bytes / kBlock;
  size_t b = 0;
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  if (vectorised) {
    accumulate_kib_avx512(acc, data, blocks / 16);
    b = blocks / 16 * 16;
  }
#endif
  for (; b < blocks; ++b) {
    accumulate(acc, data + b * kBlock);
    if (b % 16 == 15) scramble(acc);
  }
  unsigned char tail[kBlock] = {};
  std::memcpy(tail, data + blocks * kBlock, bytes - blocks * kBlock);
  accumulate(acc, tail);
  uint64_t h = mix(bytes ^ index);
  for (size_t i = 0; i < kLanes; ++i) h = mix(h ^ acc[i]) + kPrime1;
  return h;
}

uint64_t checksum(const void* data, size_t bytes, bool vectorised) {
  const auto* p = static_cast<const unsigned char*>(data);
  const int64_t chunks = static_cast<int64_t>(bytes == 0 ? 1 : (bytes + kChunk - 1) / kChunk);
  std::vector<uint64_t> hashes(static_cast<size_t>(chunks));
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; ++c) {
    const size_t begin = static_cast<size_t>(c) * kChunk;
    hashes[static_cast<size_t>(c)] = chunk_hash(p + begin, std::min(kChunk, bytes - begin), static_cast<uint64_t>(c),
                                                   vectorised);
  }
  uint64_t h = mix(bytes);
  for (uint64_t chunk : hashes) h = mix(h ^ chunk) * kPrime2;
  return h;
}

}  // namespace

uint64_t checksum64(const void* data, size_t bytes) { return checksum(data, bytes, true); }

uint64_t checksum64_reference(const void* data, size_t bytes) { return checksum(data, bytes, false); }

}  // namespace sdxl

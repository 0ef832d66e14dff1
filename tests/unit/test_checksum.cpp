// The cache's checksum: the vectorised kernel equals its plain loops at every length around its
// block, KiB and chunk boundaries, one flipped bit anywhere changes it, and the thread count does not.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "core/checksum.h"

namespace sdxl {
namespace {

std::vector<unsigned char> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<unsigned char> out(n);
  for (auto& b : out) b = static_cast<unsigned char>(gen());
  return out;
}

const size_t kLengths[] = {0,    1,    7,    63,   64,   65,   1023, 1024, 1025, 4096 + 17,
                           (1u << 20) - 1, 1u << 20, (1u << 20) + 1, (3u << 20) + 100};

TEST(Checksum, KernelEqualsPlainLoops) {
  const auto bytes = random_bytes((3u << 20) + 100, 1);
  for (size_t n : kLengths) EXPECT_EQ(checksum64(bytes.data(), n), checksum64_reference(bytes.data(), n)) << n;
  // Unaligned starts
  for (size_t offset : {1, 3, 8, 33}) EXPECT_EQ(checksum64(bytes.data() + offset, 5000), checksum64_reference(bytes.data() + offset, 5000));
}

TEST(Checksum, EveryFlippedBitChangesIt) {
  for (size_t n : {64u, 1000u, 70000u, (1u << 20) + 5}) {
    auto bytes = random_bytes(n, 2);
    const uint64_t clean = checksum64(bytes.data(), n);
    std::mt19937 gen(3);
    for (int trial = 0; trial < 200; ++trial) {
      const size_t at = gen() % n;
      const unsigned char bit = static_cast<unsigned char>(1u << (gen() % 8));
      bytes[at] ^= bit;
      EXPECT_NE(checksum64(bytes.data(), n), clean) << "byte " << at << " of " << n;
      bytes[at] ^= bit;
    }
  }
}

TEST(Checksum, LengthAndZerosCount) {
  const std::vector<unsigned char> zeros(5000, 0);
  EXPECT_NE(checksum64(zeros.data(), 4999), checksum64(zeros.data(), 5000));
  EXPECT_NE(checksum64(zeros.data(), 0), checksum64(zeros.data(), 1));
  // Two chunks swapped: order matters.
  auto bytes = random_bytes(2u << 20, 4);
  const uint64_t before = checksum64(bytes.data(), bytes.size());
  std::swap_ranges(bytes.begin(), bytes.begin() + (1 << 20), bytes.begin() + (1 << 20));
  EXPECT_NE(checksum64(bytes.data(), bytes.size()), before);
}

TEST(Checksum, TheThreadCountDoesNotChangeIt) {
  const auto bytes = random_bytes((5u << 20) + 3, 5);
  const int threads = omp_get_max_threads();
  const uint64_t all = checksum64(bytes.data(), bytes.size());
  omp_set_num_threads(1);
  const uint64_t one = checksum64(bytes.data(), bytes.size());
  omp_set_num_threads(threads);
  EXPECT_EQ(one, all);
}

}  // namespace
}  // namespace sdxl

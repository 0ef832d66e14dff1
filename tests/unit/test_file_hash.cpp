// File hashes for PNG infotext: SHA-256 against FIPS 180-2's vector, the safetensors data hash
// skipping the header, and the cache (used while size and time match, refreshed after).
#include <gtest/gtest.h>

#include <thread>

#include "io/file_hash.h"
#include "io/json_file.h"
#include "test_support.h"

namespace sdxl::io {
namespace {

const std::string kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(FileHash, Sha256OfTheWholeFileAndOfSafetensorsData) {
  test::TempDir dir;
  test::write_file(dir / "abc", "abc");
  EXPECT_EQ(file_sha256(dir / "abc", FileHashKind::WholeFile, {}), kAbc);
  // A header of 2 bytes ("{}"), then the data "abc": the data hash ignores the header.
  test::write_file(dir / "t.safetensors", std::string("\x02\0\0\0\0\0\0\0{}abc", 13));
  EXPECT_EQ(file_sha256(dir / "t.safetensors", FileHashKind::SafetensorsData, {}), kAbc);
  EXPECT_NE(file_sha256(dir / "t.safetensors", FileHashKind::WholeFile, {}), kAbc);
  test::write_file(dir / "bad.safetensors", std::string("\xff\xff\0\0\0\0\0\0{}", 10));
  EXPECT_THROW(file_sha256(dir / "bad.safetensors", FileHashKind::SafetensorsData, {}), Error);
  EXPECT_THROW(file_sha256(dir / "missing", FileHashKind::WholeFile, {}), Error);
}

TEST(FileHash, CachedByPathSizeAndTime) {
  test::TempDir dir;
  const auto cache = dir / "cache/hashes.json";
  test::write_file(dir / "abc", "abc");
  EXPECT_EQ(file_sha256(dir / "abc", FileHashKind::WholeFile, cache), kAbc);
  // The cache answers while the file's size and time match: a planted value comes back.
  auto json = read_json_object(cache, "cache");
  ASSERT_EQ(json.size(), 1u);
  json.begin().value()["sha256"] = std::string(64, '0');
  test::write_file(cache, json.dump());
  EXPECT_EQ(file_sha256(dir / "abc", FileHashKind::WholeFile, cache), std::string(64, '0'));
  // A changed file is hashed again.
  test::write_file(dir / "abc", "abcd");
  EXPECT_EQ(file_sha256(dir / "abc", FileHashKind::WholeFile, cache),
            "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589");
  // A cache that is not JSON is ignored and rewritten.
  test::write_file(cache, "not json");
  EXPECT_EQ(file_sha256(dir / "abc", FileHashKind::WholeFile, cache).size(), 64u);
  EXPECT_TRUE(read_json_object(cache, "cache").is_object());
}

}  // namespace
}  // namespace sdxl::io

// Replays every input in fuzz/regressions/<target>/ (and the committed seeds) through a fuzz
// target body: inputs that once crashed must now end with a clean error or success.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace sdxl {

inline void replay(const std::string& target, int (*body)(const uint8_t*, size_t)) {
  size_t count = 0;
  for (const char* root : {"fuzz/regressions/", "fuzz/seeds/"}) {
    const std::filesystem::path dir = std::filesystem::path(SDXL_SOURCE_DIR) / (std::string(root) + target);
    if (!std::filesystem::is_directory(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().filename().string().rfind('.', 0) == 0) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(entry.path().string());
      EXPECT_EQ(body(bytes.data(), bytes.size()), 0);
      ++count;
    }
  }
  ::testing::Test::RecordProperty("inputs", static_cast<int>(count));
  // An empty or misplaced folder must not turn the replay into a test that cannot fail.
  EXPECT_GT(count, 0u) << "no inputs found for " << target;
}

}  // namespace sdxl

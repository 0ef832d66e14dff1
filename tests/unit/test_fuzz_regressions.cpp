// Replays every input in fuzz/regressions/<target>/ (and the committed seeds) through the fuzz
// target bodies: inputs that once crashed must now end with a clean error or success.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "fuzz_targets.h"
#include "test_support.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

void replay(const std::string& target, int (*body)(const uint8_t*, size_t)) {
  size_t count = 0;
  for (const char* root : {"fuzz/regressions/", "fuzz/seeds/"}) {
    const fs::path dir = fs::path(SDXL_SOURCE_DIR) / (std::string(root) + target);
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
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

TEST(FuzzRegressions, Safetensors) { replay("safetensors", fuzz::safetensors_bytes); }
TEST(FuzzRegressions, Config) { replay("config", fuzz::config_bytes); }
TEST(FuzzRegressions, Image) { replay("image", fuzz::image_bytes); }
TEST(FuzzRegressions, Keys) { replay("keys", fuzz::keys_bytes); }
TEST(FuzzRegressions, Lora) { replay("lora", fuzz::lora_bytes); }
TEST(FuzzRegressions, Prompt) {
  SDXL_REQUIRE_REFERENCE();
  replay("prompt", fuzz::prompt_bytes);
}
TEST(FuzzRegressions, Tokenizer) {
  SDXL_REQUIRE_REFERENCE();
  replay("tokenizer", fuzz::tokenizer_bytes);
}

}  // namespace
}  // namespace sdxl

// Replays every input in fuzz/regressions/<target>/ (and the committed seeds) through the fuzz
// target bodies: inputs that once crashed must now end with a clean error or success.
#include <gtest/gtest.h>

#include "fuzz_replay.h"
#include "fuzz_targets.h"
#include "test_support.h"

namespace sdxl {
namespace {

TEST(FuzzRegressions, Safetensors) { replay("safetensors", fuzz::safetensors_bytes); }
TEST(FuzzRegressions, Torch) { replay("torch", fuzz::torch_bytes); }
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

// AUTOMATIC1111's parameters text: the fields in the webui's order, extra_generation_params
// (quoted as the webui quotes them) just before Version.
#include <gtest/gtest.h>

#include "pipeline/request/infotext.h"
#include "test_support.h"

namespace sdxl::pipeline {
namespace {

TEST(Infotext, ExtraParametersComeBeforeTheVersionInOrder) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "my-model");
  InfotextFields f;
  f.prompt = "a cat";
  f.negative_prompt = "fog";
  f.steps = 20;
  f.sampler = "DDIM";
  f.guidance = 6;
  f.seed = 7;
  f.width = 64;
  f.height = 80;
  f.model = dir / "my-model";
  f.extra = {{"Eta DDIM", "0.5"}, {"Note", "a, b"}};
  f.version = "0.1.0";
  EXPECT_EQ(a1111_infotext(f),
            "a cat\nNegative prompt: fog\nSteps: 20, Sampler: DDIM, CFG scale: 6.0, Seed: 7, Size: 64x80, Model: my-model, "
            "Eta DDIM: 0.5, Note: \"a, b\", Version: sdxl 0.1.0");
}

}  // namespace
}  // namespace sdxl::pipeline

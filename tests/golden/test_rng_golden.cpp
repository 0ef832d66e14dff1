// torch.randn under torch.Generator("cpu").manual_seed(seed), reproduced.
#include <gtest/gtest.h>

#include "golden_cases.h"
#include "rng/torch_generator.h"

namespace sdxl {
namespace {

TEST(RngGolden, EveryDraw) {
  SDXL_REQUIRE_REFERENCE();
  auto cases = test::cases_of_kind("rng");
  ASSERT_FALSE(cases.empty());
  for (const auto& c : cases) {
    test::CaseFile file(c);
    for (const auto& draw : c["params"]["draws"]) {
      const std::string name = draw["tensor"];
      const auto dims = draw["shape"].get<std::vector<int64_t>>();
      const Shape shape = Shape::from_range(dims.begin(), dims.end());
      rng::TorchGenerator generator(draw["seed"].get<uint64_t>());
      if (name == "seq_first/seq_second") {
        Tensor first = generator.randn(shape);
        Tensor second = generator.randn(shape);
        EXPECT_TRUE(test::matches(first, file["seq_first"], c, "seq_first"));
        EXPECT_TRUE(test::matches(second, file["seq_second"], c, "seq_second"));
        continue;
      }
      Tensor got = generator.randn(shape);
      Tensor want = file[name];
      EXPECT_TRUE(test::matches(got, want, c, name));
      int64_t identical = 0;
      for (int64_t i = 0; i < got.numel(); ++i) identical += got.data<float>()[i] == want.data<float>()[i];
      EXPECT_EQ(identical, got.numel()) << name << ": not bit-identical";
      if (std::getenv("SDXL_RNG_DEBUG"))
        for (int64_t i = 0; i < got.numel(); ++i)
          if (got.data<float>()[i] != want.data<float>()[i])
            std::printf("%s[%lld] (lane %lld of 16): got %.9g want %.9g\n", name.c_str(), static_cast<long long>(i),
                        static_cast<long long>(i % 16), got.data<float>()[i], want.data<float>()[i]);
    }
  }
}

}  // namespace
}  // namespace sdxl

// torch.randn under torch.Generator("cpu").manual_seed(seed), reproduced.
#include <gtest/gtest.h>

#include "golden_cases.h"
#include <algorithm>

#include "rng/batch_generators.h"
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

namespace sdxl {
namespace {

bool same(const float* a, const float* b, int64_t n) { return std::equal(a, a + n, b); }

// A batch's streams: per image, image i's values are those its own generator (seed + i) draws,
// the torch draws of each image's generator in turn; shared, the one generator's draws in order.
TEST(BatchGenerators, EachImageDrawsFromItsOwnGeneratorOrAllFromOne) {
  const Shape batch{3, 4, 5, 6}, one{1, 4, 5, 6};
  const int64_t each = one.numel();
  rng::BatchGenerators per_image(41, 3, rng::BatchSeeding::PerImage);
  const Tensor first = per_image.randn(batch);
  const Tensor second = per_image.randn_for_each(one);
  for (int64_t i = 0; i < 3; ++i) {
    rng::TorchGenerator alone(41 + static_cast<uint64_t>(i));
    const Tensor a = alone.randn(one), b = alone.randn(one);
    EXPECT_TRUE(same(first.data<float>() + i * each, a.data<float>(), each)) << "image " << i;
    EXPECT_TRUE(same(second.data<float>() + i * each, b.data<float>(), each)) << "image " << i;
  }
  rng::BatchGenerators shared(41, 3, rng::BatchSeeding::Shared);
  const Tensor all = shared.randn(batch);
  const Tensor repeated = shared.randn_for_each(one);
  rng::TorchGenerator alone(41);
  const Tensor a = alone.randn(batch), b = alone.randn(one);
  EXPECT_TRUE(same(all.data<float>(), a.data<float>(), batch.numel()));
  for (int64_t i = 0; i < 3; ++i) EXPECT_TRUE(same(repeated.data<float>() + i * each, b.data<float>(), each)) << "copy " << i;
  float odd[7];
  EXPECT_THROW(per_image.randn(odd, 7), Error);  // not a whole number of values per image
  EXPECT_THROW(per_image.randn(Shape{2, 4}), Error);
}

}  // namespace
}  // namespace sdxl

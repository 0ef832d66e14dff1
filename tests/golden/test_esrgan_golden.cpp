// ESRGAN-family upscalers (kind esrgan_upscale) against BasicSR's RRDBNet: the raw output of the
// whole image, and its 8-bit PNG (AUTOMATIC1111's rounding); RGB and BGR channel orders, the
// new and the old key layout, .safetensors and .pth, x4 and x2 (pixel-unshuffled input).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "golden_cases.h"
#include "io/image_file.h"
#include "pipeline/sources/upscaler_source.h"
#include "pipeline/stages/upscale.h"

namespace sdxl {
namespace {

using test::reference_dir;

Tensor nchw(const Tensor& nhwc) {
  Arena arena;
  return ops::nhwc_to_nchw(arena, nhwc).clone();
}

pipeline::UpscaleOptions whole(const nlohmann::json& c) {
  pipeline::UpscaleOptions o;
  o.channel_order = c["params"]["channel_order"] == "bgr" ? pipeline::ChannelOrder::Bgr : pipeline::ChannelOrder::Rgb;
  o.tile = 0;
  return o;
}

TEST(EsrganGolden, EveryCaseMatchesBasicSR) {
  SDXL_REQUIRE_REFERENCE();
  const auto cases = test::cases_of_kind("esrgan_upscale");
  ASSERT_GE(cases.size(), 3u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto net = pipeline::load_upscaler(reference_dir() / c["params"]["model_file"].get<std::string>());
    EXPECT_EQ(net->config().scale, c["params"]["scale"].get<int64_t>());
    EXPECT_EQ(net->config().num_block, c["params"]["num_block"].get<int64_t>());
    EXPECT_EQ(net->config().num_feat, c["params"]["num_feat"].get<int64_t>());
    EXPECT_EQ(net->config().num_grow_ch, c["params"]["num_grow_ch"].get<int64_t>());
    const io::Image8 input = io::read_image(reference_dir() / c["params"]["input_png"].get<std::string>());
    test::RawCaseFile file(c);
    Arena arena;
    const Tensor raw = pipeline::upscale_raw(arena, *net, input, whole(c));
    EXPECT_TRUE(test::matches(nchw(raw), file["output"], c, "output"));
    const io::Image8 want = io::read_image(reference_dir() / c["params"]["output_png"].get<std::string>());
    const int apart = test::png_levels_apart(pipeline::output_to_image8(raw), want);
    EXPECT_TRUE(apart >= 0 && apart <= 1) << apart;
  }
}

io::Image8 crop(const io::Image8& image, int64_t x0, int64_t y0, int64_t w, int64_t h) {
  io::Image8 out{w, h, 3, {}};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w * 3; ++x) out.pixels.push_back(image.pixels[static_cast<size_t>((y0 + y) * image.width * 3 + x0 * 3 + x)]);
  return out;
}

// Tiles (A1111's tiled_upscale_2): one tile as large as the image is the whole-image result
// exactly; 12-pixel tiles overlapping by 4 are each crop's own result, averaged where they
// overlap (a plain loop over the crops here). How far that is from the whole image depends on
// the weights (these random ones reach far): printed, not bounded.
TEST(EsrganGolden, TilesAreTheAverageOfTheirCrops) {
  SDXL_REQUIRE_REFERENCE();
  for (const auto& c : test::cases_of_kind("esrgan_upscale")) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto net = pipeline::load_upscaler(reference_dir() / c["params"]["model_file"].get<std::string>());
    const io::Image8 input = io::read_image(reference_dir() / c["params"]["input_png"].get<std::string>());
    const int64_t s = net->config().scale;
    Arena arena;
    const Tensor all = pipeline::upscale_raw(arena, *net, input, whole(c));
    pipeline::UpscaleOptions tiled = whole(c);
    tiled.tile = std::max(input.width, input.height);
    EXPECT_EQ(std::memcmp(pipeline::upscale_raw(arena, *net, input, tiled).raw(), all.raw(), all.nbytes()), 0);
    tiled.tile = 12;
    tiled.overlap = 4;
    const Tensor tiles = pipeline::upscale_raw(arena, *net, input, tiled);

    std::vector<double> sum(static_cast<size_t>(all.numel()), 0.0), count(sum.size(), 0.0);
    auto starts = [](int64_t side) {
      std::vector<int64_t> v;
      for (int64_t i = 0; i < side - 12; i += 8) v.push_back(i);
      v.push_back(side - 12);
      return v;
    };
    for (int64_t y0 : starts(input.height))
      for (int64_t x0 : starts(input.width)) {
        const Tensor o = pipeline::upscale_raw(arena, *net, crop(input, x0, y0, 12, 12), whole(c));
        for (int64_t y = 0; y < 12 * s; ++y)
          for (int64_t x = 0; x < 12 * s; ++x)
            for (int64_t ch = 0; ch < 3; ++ch) {
              const size_t at = static_cast<size_t>(((y0 * s + y) * input.width * s + x0 * s + x) * 3 + ch);
              sum[at] += o.data<float>()[(y * 12 * s + x) * 3 + ch];
              count[at] += 1;
            }
      }
    double worst_blend = 0, worst_whole = 0;
    for (int64_t i = 0; i < all.numel(); ++i) {
      const double t = tiles.data<float>()[i];
      worst_blend = std::max(worst_blend, std::abs(t - sum[static_cast<size_t>(i)] / count[static_cast<size_t>(i)]));
      worst_whole = std::max(worst_whole, std::abs(t - static_cast<double>(all.data<float>()[i])));
    }
    EXPECT_LT(worst_blend, 1e-5);
    std::printf("[ tiles    ] %s: tile 12 overlap 4: largest difference to the whole image %.4f\n",
                c["name"].get<std::string>().c_str(), worst_whole);
    EXPECT_GT(worst_whole, 0.0);  // the tiles did run on their own
  }
}

}  // namespace
}  // namespace sdxl

#include "models/adapters/t2i_adapter.h"

#include <string>

#include "core/error.h"

namespace sdxl::models {

T2IAdapter T2IAdapter::load(const io::T2IAdapterConfig& c, WeightBinder& w) {
  T2IAdapter a;
  a.config_ = c;
  const auto& ch = c.channels;
  const int64_t unshuffled = c.in_channels * c.downscale_factor * c.downscale_factor;
  a.conv_in_ = Conv2d::bind(w, "adapter.conv_in", unshuffled, ch[0], 3);
  for (size_t i = 0; i < ch.size(); ++i) {
    // FullAdapterXL's wiring: block 1 widens ch0 to ch1, block 2 pools and widens ch1 to ch2,
    // the others keep their own width.
    const int64_t in = i == 1 ? ch[0] : i == 2 ? ch[1] : ch[i];
    const int64_t out = ch[i];
    const std::string p = "adapter.body." + std::to_string(i);
    AdapterBlock block;
    block.downsample = i == 2;
    block.has_in_conv = in != out;
    if (block.has_in_conv) block.in_conv = Conv2d::bind(w, p + ".in_conv", in, out, 1);
    for (int64_t j = 0; j < c.num_res_blocks; ++j) {
      const std::string r = p + ".resnets." + std::to_string(j);
      block.resnets.push_back({Conv2d::bind(w, r + ".block1", out, out, 3), Conv2d::bind(w, r + ".block2", out, out, 1)});
    }
    a.body_.push_back(std::move(block));
  }
  return a;
}

std::vector<Tensor> T2IAdapter::forward(Arena& arena, const Tensor& image, float scale) const {
  const auto& c = config_;
  SDXL_CHECK(image.rank() == 4 && image.dim(1) == c.in_channels && image.dtype() == DType::F32, InvalidArgument,
             "[t2i-adapter] the image must be f32 [B, ", c.in_channels, ", H, W], got ", image.shape().to_string());
  SDXL_CHECK(image.dim(2) % c.downscale_factor == 0 && image.dim(3) % c.downscale_factor == 0, InvalidArgument,
             "[t2i-adapter] the image is ", image.dim(3), "x", image.dim(2), ": its sides must be multiples of ",
             c.downscale_factor);
  std::vector<Tensor> features;
  // The features stay in `arena` (the unshuffled image too: small); each resnet's temporaries
  // are dropped behind it.
  Tensor x = conv_in_(arena, ops::pixel_unshuffle(arena, ops::nchw_to_nhwc(arena, image), c.downscale_factor));
  for (const AdapterBlock& block : body_) {
    if (block.downsample) x = ops::avg_pool2x2_ceil(arena, x);
    if (block.has_in_conv) x = block.in_conv(arena, x);
    for (const ResnetBlock& r : block.resnets) {
      Tensor h = ops::copy(arena, x);
      ArenaScope temporaries(arena);
      Tensor hidden = r.block1(arena, x);
      ops::activate_inplace(hidden, ops::Activation::Relu);
      r.block2.accumulate(hidden, h);
      x = h;
    }
    features.push_back(x);
  }
  if (scale != 1.0f)
    for (Tensor& f : features) ops::scale_shift(f, scale, 0.0f, f);
  return features;
}

}  // namespace sdxl::models

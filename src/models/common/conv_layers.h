// Convolution-side building blocks: Conv2d, GroupNorm and diffusers' ResnetBlock2D.
#pragma once

#include <memory>
#include <string>

#include "models/common/layers.h"
#include "models/common/row_bands.h"

namespace sdxl::models {

class Conv2d {
 public:
  Conv2d() = default;
  static Conv2d bind(WeightBinder& w, const std::string& prefix, int64_t in_channels, int64_t out_channels,
                     int64_t kernel, int64_t stride = 1, int64_t padding = -1 /* kernel / 2 */);
  // Padding per side (the VAE encoder's downsampler pads bottom and right only).
  static Conv2d bind(WeightBinder& w, const std::string& prefix, const Conv2dGeometry& geometry, bool bias = true);

  Tensor operator()(Arena& arena, const Tensor& x) const;  // [N, H, W, I] -> [N, OH, OW, O]
  void accumulate(const Tensor& x, Tensor& out) const;      // out += conv(x)
  // Output rows `wanted` of an image of `height` rows, from the input rows `band` (covering
  // `wanted` and its halo of kernel / 2 rows within the image): a view into the band's output.
  // Stride 1 with "same" padding only.
  Tensor rows(Arena& arena, const Tensor& band, RowRange band_range, int64_t height, RowRange wanted) const;
  int64_t out_channels() const { return geometry_.out_channels; }

 private:
  Conv2dGeometry geometry_;
  // Shared with the model's AdaptableLayers, which may pack it again (a LoRA swap).
  std::shared_ptr<ops::Conv2dWeights> packed_ = std::make_shared<ops::Conv2dWeights>();
};

class GroupNorm {
 public:
  static GroupNorm bind(WeightBinder& w, const std::string& prefix, int64_t channels, int64_t groups, float eps);
  Tensor operator()(Arena& arena, const Tensor& x, bool fuse_silu = false) const;

  // The same in two steps (a band-wise decode): statistics of one whole image, or gathered
  // from its bands, then applied to any band of it.
  ops::GroupStatistics statistics(const Tensor& image) const;
  ops::GroupStatisticsAccumulator accumulator() const { return {weight_.numel(), groups_}; }
  ops::GroupStatistics statistics(const ops::GroupStatisticsAccumulator& gathered) const {
    return gathered.finish(eps_);
  }
  Tensor apply(Arena& arena, const Tensor& band, const ops::GroupStatistics& statistics, bool fuse_silu) const;

 private:
  Tensor weight_, bias_;
  int64_t groups_ = 32;
  float eps_ = 1e-5f;
};

// diffusers' ResnetBlock2D with the default time_scale_shift:
//   h = conv1(silu(norm1(x))) [+ time_emb_proj(silu(temb))]; h = conv2(silu(norm2(h)))
//   out = shortcut(x) + h, shortcut a 1x1 conv when the channel count changes.
class ResnetBlock2D {
 public:
  static ResnetBlock2D bind(WeightBinder& w, const std::string& prefix, int64_t in_channels, int64_t out_channels,
                            int64_t temb_channels /* 0: none */, int64_t groups, float eps);
  // x [N, H, W, in]; temb_silu [N, temb_channels] = silu(temb), shared by all blocks, or null.
  Tensor operator()(Arena& arena, const Tensor& x, const Tensor* temb_silu) const;

  // The same (without time input) on one image [1, H, W, in], a band of `band_rows` rows at a
  // time: a first sweep gathers the statistics of the hidden activation h for norm2, a second
  // finishes each band. x may be held whole or recomputed per reading (three readings: its
  // statistics and the two sweeps). The output comes from `arena` and holds h between the
  // sweeps; every band's temporaries come from `bands`. Equal to operator() up to the rounding
  // of the statistics.
  Tensor forward_in_bands(Arena& arena, Arena& bands, const RowSource& x, int64_t band_rows) const;
  // The same written over x (equal channel counts). h is kept in `hidden` ([1, H, W, out]), or
  // without one recomputed in the second sweep (conv1 twice; bands of 2 rows or more).
  void forward_in_bands_in_place(Arena& bands, Tensor& x, int64_t band_rows, Tensor* hidden = nullptr) const;
  bool can_run_in_place(int64_t band_rows) const;  // without a buffer for h
  int64_t out_channels() const { return out_channels_; }

 private:
  void run_in_bands(Arena& arena, const RowSource& x, int64_t band_rows, Tensor& out, Tensor* hidden) const;

  GroupNorm norm1_, norm2_;
  Conv2d conv1_, conv2_, conv_shortcut_;
  Linear time_emb_proj_;
  bool has_temb_ = false, has_shortcut_ = false;
  int64_t out_channels_ = 0;
};

}  // namespace sdxl::models

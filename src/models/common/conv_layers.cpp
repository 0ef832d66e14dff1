#include "models/common/conv_layers.h"

#include <cstring>

#include "core/error.h"

namespace sdxl::models {

Conv2d Conv2d::bind(WeightBinder& w, const std::string& prefix, int64_t in_channels, int64_t out_channels,
                    int64_t kernel, int64_t stride, int64_t padding) {
  return bind(w, prefix,
              cpu::Conv2dGeometry::symmetric(out_channels, in_channels, kernel, stride, padding < 0 ? kernel / 2 : padding));
}

Conv2d Conv2d::bind(WeightBinder& w, const std::string& prefix, const cpu::Conv2dGeometry& geometry) {
  Conv2d conv;
  conv.geometry_ = geometry;
  const int64_t k = geometry.kernel;
  Tensor weight = w.take(prefix + ".weight", Shape{geometry.out_channels, geometry.in_channels, k, k});
  Tensor bias = w.take(prefix + ".bias", Shape{geometry.out_channels});
  if (w.has_data()) conv.packed_ = ops::pack_conv2d(weight, bias, geometry, w.precision());
  return conv;
}

Tensor Conv2d::operator()(Arena& arena, const Tensor& x) const { return ops::conv2d(arena, x, packed_); }

void Conv2d::accumulate(const Tensor& x, Tensor& out) const { ops::conv2d_accumulate(x, packed_, out); }

Tensor Conv2d::rows(Arena& arena, const Tensor& band, RowRange band_range, int64_t height, RowRange wanted) const {
  const auto& g = geometry_;
  const int64_t halo = g.kernel / 2;
  SDXL_CHECK(g.stride == 1 && g.pad_top == halo && g.pad_bottom == halo && g.pad_left == halo && g.pad_right == halo,
             InvalidArgument, "[conv2d] band-wise evaluation needs stride 1 and same padding");
  // Rows computed next to a band edge inside the image see zeros where the image has rows.
  SDXL_CHECK(band_range.contains(wanted.grown(halo, height)), InvalidArgument, "[conv2d] rows [", wanted.first, ", ",
             wanted.last, ") need input rows the band [", band_range.first, ", ", band_range.last, ") lacks");
  return rows_within((*this)(arena, band), band_range, wanted);
}

GroupNorm GroupNorm::bind(WeightBinder& w, const std::string& prefix, int64_t channels, int64_t groups, float eps) {
  GroupNorm norm;
  norm.weight_ = to_f32(w.take(prefix + ".weight", Shape{channels}));
  norm.bias_ = to_f32(w.take(prefix + ".bias", Shape{channels}));
  norm.groups_ = groups;
  norm.eps_ = eps;
  return norm;
}

Tensor GroupNorm::operator()(Arena& arena, const Tensor& x, bool fuse_silu) const {
  return ops::group_norm(arena, x, groups_, weight_, bias_, eps_, fuse_silu);
}

ops::GroupStatistics GroupNorm::statistics(const Tensor& image) const {
  return ops::group_norm_statistics(image, groups_, eps_);
}

Tensor GroupNorm::apply(Arena& arena, const Tensor& band, const ops::GroupStatistics& statistics, bool fuse_silu) const {
  return ops::group_norm_apply(arena, band, statistics, weight_, bias_, fuse_silu);
}

ResnetBlock2D ResnetBlock2D::bind(WeightBinder& w, const std::string& prefix, int64_t in_channels,
                                  int64_t out_channels, int64_t temb_channels, int64_t groups, float eps) {
  ResnetBlock2D block;
  block.out_channels_ = out_channels;
  block.norm1_ = GroupNorm::bind(w, prefix + ".norm1", in_channels, groups, eps);
  block.conv1_ = Conv2d::bind(w, prefix + ".conv1", in_channels, out_channels, 3);
  if (temb_channels > 0) {
    block.has_temb_ = true;
    block.time_emb_proj_ = Linear::bind(w, prefix + ".time_emb_proj", temb_channels, out_channels);
  }
  block.norm2_ = GroupNorm::bind(w, prefix + ".norm2", out_channels, groups, eps);
  block.conv2_ = Conv2d::bind(w, prefix + ".conv2", out_channels, out_channels, 3);
  if (in_channels != out_channels) {
    block.has_shortcut_ = true;
    block.conv_shortcut_ = Conv2d::bind(w, prefix + ".conv_shortcut", in_channels, out_channels, 1);
  }
  return block;
}

Tensor ResnetBlock2D::operator()(Arena& arena, const Tensor& x, const Tensor* temb_silu) const {
  // The output is allocated first so the temporaries above it can be dropped on return.
  Tensor out = has_shortcut_ ? conv_shortcut_(arena, x) : ops::copy(arena, x);  // [N, H, W, out]
  ArenaScope temporaries(arena);
  Tensor h = conv1_(arena, norm1_(arena, x, /*fuse_silu=*/true));
  if (has_temb_ && temb_silu) ops::add_broadcast_inplace(h, time_emb_proj_(arena, *temb_silu));
  conv2_.accumulate(norm2_(arena, h, /*fuse_silu=*/true), out);
  return out;
}

}  // namespace sdxl::models

namespace sdxl::models {

Tensor ResnetBlock2D::forward_in_bands(Arena& arena, const Tensor& x, int64_t band_rows) const {
  SDXL_CHECK(x.rank() == 4 && x.dim(0) == 1, InvalidArgument, "[resnet] band-wise input must be one image, got ",
             x.shape().to_string());
  const int64_t height = x.dim(1);
  Tensor out = Tensor::in_arena(arena, Shape{1, height, x.dim(2), out_channels_}, DType::F32);
  ArenaScope temporaries(arena);
  const ops::GroupStatistics x_statistics = norm1_.statistics(x);
  const auto hidden = [&](RowRange wanted) {  // rows of h = conv1(silu(norm1(x)))
    const RowRange input = wanted.grown(1, height);
    return conv1_.rows(arena, norm1_.apply(arena, rows_of(x, input), x_statistics, true), input, height, wanted);
  };
  const std::vector<RowRange> bands = split_rows(height, band_rows);
  ops::GroupStatisticsAccumulator gathered = norm2_.accumulator();
  for (const RowRange band : bands) {
    ArenaScope band_temporaries(arena);
    gathered.add(hidden(band));
  }
  const ops::GroupStatistics h_statistics = norm2_.statistics(gathered);
  for (const RowRange band : bands) {
    ArenaScope band_temporaries(arena);
    const RowRange around = band.grown(1, height);
    const Tensor h = norm2_.apply(arena, hidden(around), h_statistics, true);
    Tensor rows = rows_of(out, band);
    const Tensor shortcut = has_shortcut_ ? conv_shortcut_(arena, rows_of(x, band)) : rows_of(x, band);
    std::memcpy(rows.raw(), shortcut.raw(), rows.nbytes());
    ops::add_inplace(rows, conv2_.rows(arena, h, around, height, band));
  }
  return out;
}

}  // namespace sdxl::models

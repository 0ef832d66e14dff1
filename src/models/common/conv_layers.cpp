#include "models/common/conv_layers.h"

#include <cstring>

#include "core/error.h"
#include "models/common/adaptable_layers.h"

namespace sdxl::models {

Conv2d Conv2d::bind(WeightBinder& w, const std::string& prefix, int64_t in_channels, int64_t out_channels,
                    int64_t kernel, int64_t stride, int64_t padding) {
  return bind(w, prefix,
              Conv2dGeometry::symmetric(out_channels, in_channels, kernel, stride, padding < 0 ? kernel / 2 : padding));
}

Conv2d Conv2d::bind(WeightBinder& w, const std::string& prefix, const Conv2dGeometry& geometry, bool bias_present) {
  Conv2d conv;
  conv.geometry_ = geometry;
  const int64_t k = geometry.kernel;
  const Shape weight_shape{geometry.out_channels, geometry.in_channels, k, k}, bias_shape{geometry.out_channels};
  w.expect(prefix + ".weight", weight_shape);
  if (bias_present) w.expect(prefix + ".bias", bias_shape);
  if (!w.has_data()) return conv;
  *conv.packed_ = w.packed_conv2d(prefix + ".weight", geometry, bias_present, [&] {
    return ops::pack_conv2d(w.take(prefix + ".weight", weight_shape),
                            bias_present ? w.take(prefix + ".bias", bias_shape) : Tensor(), geometry, w.precision());
  });
  if (AdaptableLayers* adaptable = w.adaptable()) {
    const std::string bias_name = bias_present ? prefix + ".bias" : "";
    const bool merged = w.patched(prefix + ".weight") || (bias_present && w.patched(bias_name));
    adaptable->add_conv2d({prefix + ".weight", bias_name, geometry.out_channels}, conv.packed_, w.precision(), merged);
  }
  return conv;
}

Tensor Conv2d::operator()(Arena& arena, const Tensor& x) const { return ops::conv2d(arena, x, *packed_); }

void Conv2d::accumulate(const Tensor& x, Tensor& out) const { ops::conv2d_accumulate(x, *packed_, out); }

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

bool ResnetBlock2D::can_run_in_place(int64_t band_rows) const { return !has_shortcut_ && band_rows >= 2; }

Tensor ResnetBlock2D::forward_in_bands(Arena& arena, Arena& bands, const RowSource& x, int64_t band_rows) const {
  const Shape in = x.shape();
  Tensor out = Tensor::in_arena(arena, Shape{1, in[1], in[2], out_channels_}, DType::F32);
  run_in_bands(bands, x, band_rows, out, &out);  // h waits in `out` between the sweeps
  return out;
}

void ResnetBlock2D::forward_in_bands_in_place(Arena& bands, Tensor& x, int64_t band_rows, Tensor* hidden) const {
  SDXL_CHECK(!has_shortcut_ && band_rows >= 1 && (hidden || band_rows >= 2), InvalidArgument,
             "[resnet] in place needs equal channel counts and, without a buffer for h, bands of 2 rows or more");
  SDXL_CHECK(!hidden || hidden->shape() == x.shape(), InvalidArgument, "[resnet] the buffer for h is ",
             hidden ? hidden->shape().to_string() : "", ", not ", x.shape().to_string());
  run_in_bands(bands, WholeImage(x), band_rows, x, hidden);
}

void ResnetBlock2D::run_in_bands(Arena& arena, const RowSource& x, int64_t band_rows, Tensor& out,
                                 Tensor* hidden) const {
  SDXL_CHECK(!has_temb_, InvalidArgument, "[resnet] band-wise evaluation has no time input");
  ArenaScope temporaries(arena);
  const int64_t height = x.height();
  SDXL_CHECK(height > 0, InvalidArgument, "[resnet] band-wise input has no rows");
  const std::vector<RowRange> bands = split_rows(height, band_rows);
  // The statistics of x: at once when it is whole, else gathered over its bands.
  ops::GroupStatistics x_statistics;
  if (const Tensor* whole = x.whole()) {
    x_statistics = norm1_.statistics(*whole);
  } else {
    ops::GroupStatisticsAccumulator gathered = norm1_.accumulator();
    for (const RowRange band : bands) {
      ArenaScope band_temporaries(arena);
      gathered.add(x.rows(arena, band));
    }
    x_statistics = norm1_.statistics(gathered);
  }
  const auto hidden_from_x = [&](RowRange wanted) {  // h = conv1(silu(norm1(x)))
    const RowRange input = wanted.grown(1, height);
    return conv1_.rows(arena, norm1_.apply(arena, x.rows(arena, input), x_statistics, true), input, height, wanted);
  };

  // First sweep: the statistics of h, which is kept whole in `hidden` if there is one.
  ops::GroupStatisticsAccumulator gathered = norm2_.accumulator();
  for (const RowRange band : bands) {
    ArenaScope band_temporaries(arena);
    const Tensor h = hidden_from_x(band);
    gathered.add(h);
    if (hidden) {
      Tensor target = rows_of(*hidden, band);
      ops::copy_into(h, target);
    }
  }
  const ops::GroupStatistics h_statistics = norm2_.statistics(gathered);

  // Second sweep: out = shortcut(x) + conv2(silu(norm2(h))). `out` may be x itself or hold h, so
  // each band's result waits in `pending` until the next band has read the rows around it.
  Tensor pending = Tensor::in_arena(arena, Shape{1, bands.front().size(), out.dim(2), out.dim(3)}, DType::F32);
  RowRange pending_range;
  const auto flush = [&] {
    if (pending_range.size() > 0) {
      Tensor target = rows_of(out, pending_range);
      ops::copy_into(rows_of(pending, {0, pending_range.size()}), target);
    }
  };
  for (const RowRange band : bands) {
    ArenaScope band_temporaries(arena);
    const RowRange around = band.grown(1, height);
    const Tensor h = hidden ? rows_of(*hidden, around) : hidden_from_x(around);
    const Tensor residual = conv2_.rows(arena, norm2_.apply(arena, h, h_statistics, true), around, height, band);
    const Tensor x_rows = x.rows(arena, band);
    const Tensor shortcut = has_shortcut_ ? conv_shortcut_(arena, x_rows) : x_rows;
    flush();
    Tensor result = rows_of(pending, {0, band.size()});
    ops::copy_into(shortcut, result);
    ops::add_inplace(result, residual);
    pending_range = band;
  }
  flush();
}

}  // namespace sdxl::models

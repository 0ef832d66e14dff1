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

bool ResnetBlock2D::can_run_in_place(int64_t band_rows) const { return !has_shortcut_ && band_rows >= 2; }

Tensor ResnetBlock2D::forward_in_bands(Arena& arena, Arena& bands, const RowSource& x, int64_t band_rows) const {
  const Shape in = x.shape();
  Tensor out = Tensor::in_arena(arena, Shape{1, in[1], in[2], out_channels_}, DType::F32);
  run_in_bands(bands, x, band_rows, out, /*in_place=*/false);
  return out;
}

void ResnetBlock2D::forward_in_bands_in_place(Arena& bands, Tensor& x, int64_t band_rows) const {
  SDXL_CHECK(can_run_in_place(band_rows), InvalidArgument,
             "[resnet] in place needs equal channel counts and bands of 2 rows or more");
  run_in_bands(bands, WholeImage(x), band_rows, x, /*in_place=*/true);
}

void ResnetBlock2D::run_in_bands(Arena& arena, const RowSource& x, int64_t band_rows, Tensor& out, bool in_place) const {
  ArenaScope temporaries(arena);
  SDXL_CHECK(!has_temb_, InvalidArgument, "[resnet] band-wise evaluation has no time input");
  const int64_t height = x.height();
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
  const auto hidden = [&](const Tensor& x_rows, RowRange x_range, RowRange wanted) {  // h = conv1(silu(norm1(x)))
    return conv1_.rows(arena, norm1_.apply(arena, x_rows, x_statistics, true), x_range, height, wanted);
  };
  const auto shortcut = [&](const Tensor& x_rows) {
    return has_shortcut_ ? conv_shortcut_(arena, x_rows) : x_rows;
  };
  // A computed x is read twice more, not three times: its shortcut goes into `out` in the sweep
  // that gathers the statistics of h.
  const bool computed = x.whole() == nullptr;
  ops::GroupStatisticsAccumulator gathered = norm2_.accumulator();
  for (const RowRange band : bands) {
    ArenaScope band_temporaries(arena);
    const RowRange input = band.grown(1, height);
    const Tensor x_rows = x.rows(arena, input);
    gathered.add(hidden(x_rows, input, band));
    if (computed) {
      const Tensor s = shortcut(rows_within(x_rows, input, band));
      std::memcpy(rows_of(out, band).raw(), s.raw(), s.nbytes());
    }
  }
  const ops::GroupStatistics h_statistics = norm2_.statistics(gathered);

  // In place, a band's result waits in `pending` until the next band has read x around it.
  Tensor pending = in_place ? Tensor::in_arena(arena, Shape{1, band_rows, out.dim(2), out.dim(3)}, DType::F32) : Tensor();
  RowRange pending_range;
  const auto flush = [&] {
    if (pending_range.size() > 0)
      std::memcpy(rows_of(out, pending_range).raw(), pending.raw(), rows_of(out, pending_range).nbytes());
    pending_range = {};
  };
  for (const RowRange band : bands) {
    ArenaScope band_temporaries(arena);
    const RowRange around = band.grown(1, height), input = around.grown(1, height);
    const Tensor x_rows = x.rows(arena, input);
    const Tensor h = norm2_.apply(arena, hidden(x_rows, input, around), h_statistics, true);
    const Tensor residual = conv2_.rows(arena, h, around, height, band);
    Tensor target = rows_of(out, band);
    if (in_place) {
      const Tensor s = rows_within(x_rows, input, band);  // read before the previous band lands
      flush();
      target = rows_of(pending, {0, band.size()});
      std::memcpy(target.raw(), s.raw(), s.nbytes());
      pending_range = band;
    } else if (!computed) {
      const Tensor s = shortcut(rows_within(x_rows, input, band));
      std::memcpy(target.raw(), s.raw(), s.nbytes());
    }
    ops::add_inplace(target, residual);
  }
  flush();
}

}  // namespace sdxl::models

#include "models/common/conv_layers.h"

#include <cstring>

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

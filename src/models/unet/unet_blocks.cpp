#include "models/unet/unet_blocks.h"

#include "core/error.h"

namespace sdxl::models {

const Tensor* ImagePromptCursor::take(size_t layers) {
  if (!kv) return nullptr;
  SDXL_CHECK(next + layers <= kv->size(), InvalidArgument, "[unet] the IP-Adapter has ", kv->size(),
             " cross-attention layers, the UNet more (an IP-Adapter for another model?)");
  const Tensor* first = kv->data() + next;
  next += layers;
  return first;
}

Transformer2D Transformer2D::bind(WeightBinder& w, const std::string& prefix, int64_t channels, int64_t heads,
                                  int64_t layers, int64_t context_dim, int64_t groups, bool linear_projection) {
  Transformer2D t;
  t.norm_ = GroupNorm::bind(w, prefix + ".norm", channels, groups, 1e-6f);
  if (linear_projection) {
    t.proj_in_ = Linear::bind(w, prefix + ".proj_in", channels, channels);
    t.proj_out_ = Linear::bind(w, prefix + ".proj_out", channels, channels);
  } else {
    // 1x1 convolutions on channels-last data are the same linear maps.
    auto conv1x1 = [&](const std::string& name) {
      const Shape weight_shape{channels, channels, 1, 1}, bias_shape{channels};
      w.expect(name + ".weight", weight_shape);
      w.expect(name + ".bias", bias_shape);
      if (!w.has_data()) return Linear();
      return Linear::from_packed(w.packed_linear(name + ".weight", channels, channels, true, [&] {
        return ops::pack_linear(w.take(name + ".weight", weight_shape).reshape(Shape{channels, channels}),
                                w.take(name + ".bias", bias_shape), w.precision());
      }));
    };
    t.proj_in_ = conv1x1(prefix + ".proj_in");
    t.proj_out_ = conv1x1(prefix + ".proj_out");
  }
  for (int64_t i = 0; i < layers; ++i)
    t.blocks_.push_back(BasicTransformerBlock::bind(w, prefix + ".transformer_blocks." + std::to_string(i), channels,
                                                    heads, channels / heads, context_dim));
  return t;
}

void Transformer2D::operator()(Arena& arena, Tensor& x, const Tensor& context, const Tensor* image_kv) const {
  const Shape image = x.shape();
  const Shape tokens{image[0], image[1] * image[2], image[3]};
  ArenaScope temporaries(arena);
  Tensor h = proj_in_(arena, norm_(arena, x).reshape(tokens));  // [B, HW, C]
  for (size_t i = 0; i < blocks_.size(); ++i) blocks_[i](arena, h, context, image_kv ? image_kv + i : nullptr);
  Tensor residual = x.reshape(tokens);
  proj_out_.accumulate(h, residual);
}

Tensor DownBlock::operator()(Arena& arena, const Tensor& x, const Tensor& temb_silu, const Tensor& context,
                             std::vector<Tensor>& skips, const Tensor* intrablock, ImagePromptCursor* image_prompt) const {
  Tensor h = x;
  for (size_t i = 0; i < resnets.size(); ++i) {
    h = resnets[i](arena, h, &temb_silu);
    if (!attentions.empty())
      attentions[i](arena, h, context, image_prompt ? image_prompt->take(attentions[i].depth()) : nullptr);
    if (intrablock && i + 1 == resnets.size()) ops::add_inplace(h, *intrablock);
    skips.push_back(h);
  }
  if (has_downsampler) {
    h = downsampler(arena, h);
    skips.push_back(h);
  }
  return h;
}

Tensor UpBlock::operator()(ArenaChain& chain, Tensor x, const Tensor& temb_silu, const Tensor& context,
                           std::vector<Tensor>& skips, ImagePromptCursor* image_prompt) const {
  for (size_t i = 0; i < resnets.size(); ++i) {
    Tensor skip = skips.back();
    skips.pop_back();
    x = chain(x, [&](Arena& arena, const Tensor& in) {
      Tensor h = resnets[i](arena, ops::concat_channels(arena, in, skip), &temb_silu);
      if (!attentions.empty())
        attentions[i](arena, h, context, image_prompt ? image_prompt->take(attentions[i].depth()) : nullptr);
      return h;
    });
  }
  if (has_upsampler) {
    const int64_t height = skips.empty() ? 2 * x.dim(1) : skips.back().dim(1);
    const int64_t width = skips.empty() ? 2 * x.dim(2) : skips.back().dim(2);
    x = chain(x, [&](Arena& arena, const Tensor& in) {
      return upsampler(arena, ops::resize_nearest(arena, in, height, width));
    });
  }
  return x;
}

Tensor MidBlock::operator()(Arena& arena, const Tensor& x, const Tensor& temb_silu, const Tensor& context,
                            ImagePromptCursor* image_prompt) const {
  Tensor h = resnets[0](arena, x, &temb_silu);
  for (size_t i = 0; i < attentions.size(); ++i) {
    attentions[i](arena, h, context, image_prompt ? image_prompt->take(attentions[i].depth()) : nullptr);
    h = resnets[i + 1](arena, h, &temb_silu);
  }
  return h;
}

}  // namespace sdxl::models

#include "models/unet/unet.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace sdxl::models {
namespace {

// After the mid block (which reads the last skip as it was): diffusers adds the residuals to the
// skips the up path reads and to the mid block's output.
void add_control(const ControlResiduals* control, std::vector<Tensor>& skips, Tensor& mid) {
  SDXL_CHECK(control->down.size() == skips.size() && control->mid.defined(), InvalidArgument, "[unet] a ControlNet gives ",
             control->down.size(), " down residuals, but the UNet has ", skips.size(), " skip connections");
  for (size_t i = 0; i < skips.size(); ++i) {
    SDXL_CHECK(control->down[i].shape() == skips[i].shape(), InvalidArgument, "[unet] ControlNet residual ", i, " is ",
               control->down[i].shape().to_string(), ", the UNet's skip connection ", skips[i].shape().to_string());
    ops::add_inplace(skips[i], control->down[i]);
  }
  SDXL_CHECK(control->mid.shape() == mid.shape(), InvalidArgument, "[unet] the ControlNet's mid residual is ",
             control->mid.shape().to_string(), ", the UNet's mid block ", mid.shape().to_string());
  ops::add_inplace(mid, control->mid);
}

// The next T2I-Adapter feature, checked against the tensor it is added to.
const Tensor* next_feature(const ControlResiduals* control, size_t& used, const Shape& target, const char* where) {
  if (!control || used >= control->intrablock.size()) return nullptr;
  const Tensor& f = control->intrablock[used];
  SDXL_CHECK(f.shape() == target, InvalidArgument, "[unet] T2I-Adapter feature ", used, " is ", f.shape().to_string(),
             ", but ", where, " is ", target.to_string(), " (an adapter for another model or image size?)");
  ++used;
  return &f;
}

}  // namespace

std::vector<CrossAttentionLayer> cross_attention_layers(const io::UNetConfig& c) {
  const size_t levels = c.levels();
  std::vector<int64_t> down, up, mid;  // channels per layer, in module order
  for (size_t i = 0; i < levels; ++i)
    if (c.down_block_types[i] == "CrossAttnDownBlock2D")
      for (int64_t n = 0; n < c.layers_per_block[i] * c.transformer_layers_per_block[i]; ++n)
        down.push_back(c.block_out_channels[i]);
  std::vector<int64_t> reversed_depth = c.reverse_transformer_layers_per_block;
  if (reversed_depth.empty())
    reversed_depth.assign(c.transformer_layers_per_block.rbegin(), c.transformer_layers_per_block.rend());
  for (size_t i = 0; i < levels; ++i)
    if (c.up_block_types[i] == "CrossAttnUpBlock2D")
      for (int64_t n = 0; n < (c.layers_per_block[levels - 1 - i] + 1) * reversed_depth[i]; ++n)
        up.push_back(c.block_out_channels[levels - 1 - i]);
  if (!c.mid_block_type.empty())
    for (int64_t n = 0; n < c.transformer_layers_per_block.back(); ++n) mid.push_back(c.block_out_channels.back());
  std::vector<CrossAttentionLayer> layers;
  for (size_t i = 0; i < down.size(); ++i) layers.push_back({down[i], i});
  for (size_t i = 0; i < up.size(); ++i) layers.push_back({up[i], down.size() + mid.size() + i});
  for (size_t i = 0; i < mid.size(); ++i) layers.push_back({mid[i], down.size() + i});
  return layers;
}

UNet2DConditionModel UNet2DConditionModel::load(const io::UNetConfig& c, WeightBinder& w) {
  UNet2DConditionModel m;
  m.config_ = c;
  const size_t levels = c.levels();
  const int64_t c0 = c.block_out_channels[0];
  const int64_t temb = c.time_embed_dim();
  const int64_t groups = c.norm_num_groups;
  const float eps = static_cast<float>(c.norm_eps);

  m.embedding_ = TimeTextEmbedding::bind(w, c);
  m.conv_in_ = Conv2d::bind(w, "conv_in", c.in_channels, c0, c.conv_in_kernel);

  m.down_blocks_ = bind_down_blocks(w, c);
  m.has_mid_block_ = !c.mid_block_type.empty();
  if (m.has_mid_block_) m.mid_block_ = bind_mid_block(w, c);

  // Up blocks mirror the down blocks: level order reversed, one more resnet each.
  std::vector<int64_t> reversed_channels(c.block_out_channels.rbegin(), c.block_out_channels.rend());
  std::vector<int64_t> reversed_heads(c.num_attention_heads.rbegin(), c.num_attention_heads.rend());
  std::vector<int64_t> reversed_layers(c.layers_per_block.rbegin(), c.layers_per_block.rend());
  std::vector<int64_t> reversed_context(c.cross_attention_dim.rbegin(), c.cross_attention_dim.rend());
  std::vector<int64_t> reversed_depth = c.reverse_transformer_layers_per_block;
  if (reversed_depth.empty())
    reversed_depth.assign(c.transformer_layers_per_block.rbegin(), c.transformer_layers_per_block.rend());
  int64_t up_out = reversed_channels[0];
  for (size_t i = 0; i < levels; ++i) {
    const int64_t prev_out = up_out;
    up_out = reversed_channels[i];
    const int64_t in_ch = reversed_channels[std::min(i + 1, levels - 1)];
    const std::string p = "up_blocks." + std::to_string(i);
    const bool cross = c.up_block_types[i] == "CrossAttnUpBlock2D";
    const int64_t layers = reversed_layers[i] + 1;
    UpBlock block;
    for (int64_t j = 0; j < layers; ++j) {
      const int64_t skip_ch = j == layers - 1 ? in_ch : up_out;
      const int64_t resnet_in = j == 0 ? prev_out : up_out;
      block.resnets.push_back(ResnetBlock2D::bind(w, p + ".resnets." + std::to_string(j), resnet_in + skip_ch, up_out,
                                                  temb, groups, eps));
      if (cross)
        block.attentions.push_back(Transformer2D::bind(w, p + ".attentions." + std::to_string(j), up_out,
                                                       reversed_heads[i], reversed_depth[i], reversed_context[i], groups,
                                                       c.use_linear_projection));
    }
    if (i + 1 < levels) {
      block.has_upsampler = true;
      block.upsampler = Conv2d::bind(w, p + ".upsamplers.0.conv", up_out, up_out, 3);
    }
    m.up_blocks_.push_back(std::move(block));
  }
  m.norm_out_ = GroupNorm::bind(w, "conv_norm_out", c0, groups, eps);
  m.conv_out_ = Conv2d::bind(w, "conv_out", c0, c.out_channels, c.conv_out_kernel);
  return m;
}

Tensor UNet2DConditionModel::forward(Arena& arena, const Tensor& sample, float timestep, const Tensor& context,
                                     const Tensor& text_embeds, const Tensor& time_ids, const Tensor& timestep_cond,
                                     const ControlResiduals* control) const {
  const auto& c = config_;
  SDXL_CHECK(sample.rank() == 4 && sample.dim(1) == c.in_channels && sample.dtype() == DType::F32, InvalidArgument,
             "[unet] sample must be f32 [B, ", c.in_channels, ", h, w], got ", sample.shape().to_string());
  const int64_t batch = sample.dim(0);
  SDXL_CHECK(context.rank() == 3 && context.dim(0) == batch && context.dim(2) == c.cross_attention_dim[0],
             InvalidArgument, "[unet] encoder_hidden_states must be [", batch, ", L, ", c.cross_attention_dim[0],
             "], got ", context.shape().to_string());

  Tensor output = Tensor::in_arena(arena, Shape{batch, c.out_channels, sample.dim(2), sample.dim(3)}, DType::F32);
  ArenaScope temporaries(arena);
  Tensor emb = embedding_(arena, batch, timestep, text_embeds, time_ids, timestep_cond);
  Tensor emb_silu = ops::activate(arena, emb, ops::Activation::Silu);  // every resnet's time input

  Tensor x = conv_in_(arena, ops::nchw_to_nhwc(arena, sample));
  std::vector<Tensor>& skips = skips_;  // capacity kept across calls: no allocation per step
  skips.clear();
  skips.push_back(x);
  size_t features_used = 0;
  ImagePromptCursor image_prompt{control ? control->image_prompt : nullptr};
  ImagePromptCursor* ip = image_prompt.kv ? &image_prompt : nullptr;
  for (const auto& block : down_blocks_) {
    if (!block.attentions.empty()) {
      // Its inner output has the block's channels at the input's size.
      const Shape inner{x.dim(0), x.dim(1), x.dim(2), block.resnets.back().out_channels()};
      x = block(arena, x, emb_silu, context, skips, next_feature(control, features_used, inner, "a down block"), ip);
    } else {
      x = block(arena, x, emb_silu, context, skips);
      if (const Tensor* f = next_feature(control, features_used, x.shape(), "a down block's output")) ops::add_inplace(x, *f);
    }
  }
  if (has_mid_block_) {
    x = mid_block_(arena, x, emb_silu, context, ip);
    if (control && features_used < control->intrablock.size() && control->intrablock[features_used].shape() == x.shape())
      ops::add_inplace(x, control->intrablock[features_used++]);
  }
  if (control) {
    SDXL_CHECK(features_used == control->intrablock.size(), InvalidArgument, "[unet] the T2I-Adapter gives ",
               control->intrablock.size(), " features, the UNet's down path takes ", features_used,
               " (an adapter for another model?)");
  }
  if (control && !control->down.empty()) {
    SDXL_CHECK(has_mid_block_, InvalidArgument, "[unet] ControlNet residuals need a UNet with a mid block");
    add_control(control, skips, x);
  }
  {
    ArenaChain chain(arena, *up_arena_);
    for (const auto& block : up_blocks_) x = block(chain, x, emb_silu, context, skips, ip);
    Tensor y = chain(x, [&](Arena& a, const Tensor& in) {
      return ops::nhwc_to_nchw(a, conv_out_(a, norm_out_(a, in, /*fuse_silu=*/true)));
    });
    ops::copy_into(y, output);
  }
  SDXL_CHECK(!ip || image_prompt.next == image_prompt.kv->size(), InvalidArgument, "[unet] the IP-Adapter has ",
             ip ? image_prompt.kv->size() : 0, " cross-attention layers, the UNet ", image_prompt.next,
             " (an IP-Adapter for another model?)");
  skips.clear();  // drop the arena views before the arena is reused
  up_arena_->reset();  // empty now; after a first pass, one block of its high-water size
  return output;
}

}  // namespace sdxl::models

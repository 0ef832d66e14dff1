#include "models/unet/unet.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace sdxl::models {

UNet2DConditionModel UNet2DConditionModel::load(const io::UNetConfig& c, WeightBinder& w) {
  UNet2DConditionModel m;
  m.config_ = c;
  const size_t levels = c.levels();
  const int64_t c0 = c.block_out_channels[0];
  const int64_t temb = c.time_embed_dim();
  const int64_t groups = c.norm_num_groups;
  const float eps = static_cast<float>(c.norm_eps);

  m.time_linear_1_ = Linear::bind(w, "time_embedding.linear_1", c0, temb);
  m.time_linear_2_ = Linear::bind(w, "time_embedding.linear_2", temb, temb);
  if (c.time_cond_proj_dim > 0)
    m.cond_proj_ = Linear::bind(w, "time_embedding.cond_proj", c.time_cond_proj_dim, c0, /*bias=*/false);
  if (c.addition_embed_type == "text_time") {
    m.add_linear_1_ = Linear::bind(w, "add_embedding.linear_1", c.projection_class_embeddings_input_dim, temb);
    m.add_linear_2_ = Linear::bind(w, "add_embedding.linear_2", temb, temb);
  }
  m.conv_in_ = Conv2d::bind(w, "conv_in", c.in_channels, c0, c.conv_in_kernel);

  int64_t out_ch = c0;
  for (size_t i = 0; i < levels; ++i) {
    const int64_t in_ch = out_ch;
    out_ch = c.block_out_channels[i];
    const std::string p = "down_blocks." + std::to_string(i);
    const bool cross = c.down_block_types[i] == "CrossAttnDownBlock2D";
    DownBlock block;
    for (int64_t j = 0; j < c.layers_per_block[i]; ++j) {
      block.resnets.push_back(ResnetBlock2D::bind(w, p + ".resnets." + std::to_string(j), j == 0 ? in_ch : out_ch, out_ch,
                                                  temb, groups, eps));
      if (cross)
        block.attentions.push_back(Transformer2D::bind(w, p + ".attentions." + std::to_string(j), out_ch,
                                                       c.num_attention_heads[i], c.transformer_layers_per_block[i],
                                                       c.cross_attention_dim[i], groups, c.use_linear_projection));
    }
    if (i + 1 < levels) {
      block.has_downsampler = true;
      block.downsampler = Conv2d::bind(w, p + ".downsamplers.0.conv", out_ch, out_ch, 3, 2, c.downsample_padding);
    }
    m.down_blocks_.push_back(std::move(block));
  }

  const int64_t top = c.block_out_channels.back();
  if (!c.mid_block_type.empty()) {
    m.has_mid_block_ = true;
    m.mid_block_.resnets.push_back(ResnetBlock2D::bind(w, "mid_block.resnets.0", top, top, temb, groups, eps));
    m.mid_block_.attentions.push_back(Transformer2D::bind(w, "mid_block.attentions.0", top, c.num_attention_heads.back(),
                                                          c.transformer_layers_per_block.back(),
                                                          c.cross_attention_dim.back(), groups, c.use_linear_projection));
    m.mid_block_.resnets.push_back(ResnetBlock2D::bind(w, "mid_block.resnets.1", top, top, temb, groups, eps));
  }

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

Tensor UNet2DConditionModel::embedding(Arena& arena, int64_t batch, float timestep, const Tensor& text_embeds,
                                       const Tensor& time_ids, const Tensor& timestep_cond) const {
  const auto& c = config_;
  const int64_t c0 = c.block_out_channels[0];
  const float shift = static_cast<float>(c.freq_shift);
  Tensor t_features = ops::timestep_embedding(arena, ops::full(arena, Shape{batch}, timestep), c0, c.flip_sin_to_cos, shift);
  if (c.time_cond_proj_dim > 0) {
    SDXL_CHECK(timestep_cond.defined() && timestep_cond.rank() == 2 && timestep_cond.dim(0) == batch &&
                   timestep_cond.dim(1) == c.time_cond_proj_dim,
               InvalidArgument, "[unet] this UNet (time_cond_proj_dim ", c.time_cond_proj_dim,
               ") needs timestep_cond [", batch, ", ", c.time_cond_proj_dim, "], got ",
               timestep_cond.defined() ? timestep_cond.shape().to_string() : std::string("none"));
    cond_proj_.accumulate(timestep_cond, t_features);
  } else {
    SDXL_CHECK(!timestep_cond.defined(), InvalidArgument, "[unet] timestep_cond given to a UNet without time_cond_proj_dim");
  }
  Tensor hidden = time_linear_1_(arena, t_features);
  ops::activate_inplace(hidden, ops::Activation::Silu);
  Tensor emb = time_linear_2_(arena, hidden);  // [B, T]
  if (c.addition_embed_type != "text_time") return emb;

  SDXL_CHECK(text_embeds.defined() && time_ids.defined(), InvalidArgument,
             "[unet] addition_embed_type text_time needs text_embeds and time_ids");
  SDXL_CHECK(text_embeds.rank() == 2 && time_ids.rank() == 2 && text_embeds.dim(0) == batch && time_ids.dim(0) == batch,
             InvalidArgument, "[unet] text_embeds ", text_embeds.shape().to_string(), " and time_ids ",
             time_ids.shape().to_string(), " must be [", batch, ", ...]");
  const int64_t p = text_embeds.dim(1), k = time_ids.dim(1), d = c.addition_time_embed_dim;
  SDXL_CHECK(p + k * d == c.projection_class_embeddings_input_dim, InvalidArgument, "[unet] text_embeds (", p,
             ") + ", k, " time_ids x ", d, " features = ", p + k * d, ", but the UNet expects ",
             c.projection_class_embeddings_input_dim, " (base and refiner take 6 and 5 time ids)");
  // [text_embeds | features of each time id], as diffusers concatenates them.
  const Tensor time_features =
      ops::timestep_embedding(arena, time_ids.reshape(Shape{batch * k}), d, c.flip_sin_to_cos, shift).reshape(Shape{batch, k * d});
  Tensor add_input = ops::concat_channels(arena, text_embeds, time_features);
  Tensor add_hidden = add_linear_1_(arena, add_input);
  ops::activate_inplace(add_hidden, ops::Activation::Silu);
  add_linear_2_.accumulate(add_hidden, emb);
  return emb;
}

Tensor UNet2DConditionModel::forward(Arena& arena, const Tensor& sample, float timestep, const Tensor& context,
                                     const Tensor& text_embeds, const Tensor& time_ids, const Tensor& timestep_cond) const {
  const auto& c = config_;
  SDXL_CHECK(sample.rank() == 4 && sample.dim(1) == c.in_channels && sample.dtype() == DType::F32, InvalidArgument,
             "[unet] sample must be f32 [B, ", c.in_channels, ", h, w], got ", sample.shape().to_string());
  const int64_t batch = sample.dim(0);
  SDXL_CHECK(context.rank() == 3 && context.dim(0) == batch && context.dim(2) == c.cross_attention_dim[0],
             InvalidArgument, "[unet] encoder_hidden_states must be [", batch, ", L, ", c.cross_attention_dim[0],
             "], got ", context.shape().to_string());

  Tensor output = Tensor::in_arena(arena, Shape{batch, c.out_channels, sample.dim(2), sample.dim(3)}, DType::F32);
  ArenaScope temporaries(arena);
  Tensor emb = embedding(arena, batch, timestep, text_embeds, time_ids, timestep_cond);
  Tensor emb_silu = ops::activate(arena, emb, ops::Activation::Silu);  // every resnet's time input

  Tensor x = conv_in_(arena, ops::nchw_to_nhwc(arena, sample));
  std::vector<Tensor>& skips = skips_;  // capacity kept across calls: no allocation per step
  skips.clear();
  skips.push_back(x);
  for (const auto& block : down_blocks_) x = block(arena, x, emb_silu, context, skips);
  if (has_mid_block_) x = mid_block_(arena, x, emb_silu, context);
  {
    ArenaChain chain(arena, *up_arena_);
    for (const auto& block : up_blocks_) x = block(chain, x, emb_silu, context, skips);
    Tensor y = chain(x, [&](Arena& a, const Tensor& in) {
      return ops::nhwc_to_nchw(a, conv_out_(a, norm_out_(a, in, /*fuse_silu=*/true)));
    });
    ops::copy_into(y, output);
  }
  skips.clear();  // drop the arena views before the arena is reused
  up_arena_->reset();  // empty now; after a first pass, one block of its high-water size
  return output;
}

}  // namespace sdxl::models

#include "models/unet/unet_encoder.h"

#include "core/error.h"

namespace sdxl::models {

TimeTextEmbedding TimeTextEmbedding::bind(WeightBinder& w, const io::UNetConfig& c) {
  TimeTextEmbedding e;
  e.config_ = c;
  const int64_t c0 = c.block_out_channels[0];
  const int64_t temb = c.time_embed_dim();
  e.time_linear_1_ = Linear::bind(w, "time_embedding.linear_1", c0, temb);
  e.time_linear_2_ = Linear::bind(w, "time_embedding.linear_2", temb, temb);
  if (c.time_cond_proj_dim > 0)
    e.cond_proj_ = Linear::bind(w, "time_embedding.cond_proj", c.time_cond_proj_dim, c0, /*bias=*/false);
  if (c.addition_embed_type == "text_time") {
    e.add_linear_1_ = Linear::bind(w, "add_embedding.linear_1", c.projection_class_embeddings_input_dim, temb);
    e.add_linear_2_ = Linear::bind(w, "add_embedding.linear_2", temb, temb);
  }
  return e;
}

Tensor TimeTextEmbedding::operator()(Arena& arena, int64_t batch, float timestep, const Tensor& text_embeds,
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

std::vector<DownBlock> bind_down_blocks(WeightBinder& w, const io::UNetConfig& c) {
  const size_t levels = c.levels();
  const int64_t c0 = c.block_out_channels[0];
  const int64_t temb = c.time_embed_dim();
  const int64_t groups = c.norm_num_groups;
  const float eps = static_cast<float>(c.norm_eps);
  std::vector<DownBlock> blocks;
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
    blocks.push_back(std::move(block));
  }
  return blocks;
}

MidBlock bind_mid_block(WeightBinder& w, const io::UNetConfig& c) {
  SDXL_CHECK(!c.mid_block_type.empty(), Internal, "[unet] the config has no mid block");
  const int64_t temb = c.time_embed_dim();
  const int64_t groups = c.norm_num_groups;
  const float eps = static_cast<float>(c.norm_eps);
  MidBlock mid;
  const int64_t top = c.block_out_channels.back();
  mid.resnets.push_back(ResnetBlock2D::bind(w, "mid_block.resnets.0", top, top, temb, groups, eps));
  mid.attentions.push_back(Transformer2D::bind(w, "mid_block.attentions.0", top, c.num_attention_heads.back(),
                                                        c.transformer_layers_per_block.back(),
                                                        c.cross_attention_dim.back(), groups, c.use_linear_projection));
  mid.resnets.push_back(ResnetBlock2D::bind(w, "mid_block.resnets.1", top, top, temb, groups, eps));
  return mid;
}

}  // namespace sdxl::models

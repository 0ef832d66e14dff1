// The half of the UNet that a ControlNet copies: the embedding every resnet receives (timestep,
// LCM's guidance, SDXL's text_time micro-conditioning) and the down and mid blocks, bound under
// the same checkpoint names in both models.
#pragma once

#include <vector>

#include "io/model_configs.h"
#include "models/unet/unet_blocks.h"

namespace sdxl::models {

// diffusers' time_proj + time_embedding (+ cond_proj) + add_time_proj + add_embedding:
//   emb = time_embedding(features(t) [+ cond_proj(timestep_cond)])
//       + add_embedding([text_embeds | features(time_ids)])     (addition_embed_type text_time)
class TimeTextEmbedding {
 public:
  static TimeTextEmbedding bind(WeightBinder& w, const io::UNetConfig& config);
  // text_embeds [B, P] and time_ids [B, K] for text_time; timestep_cond [B, time_cond_proj_dim]
  // exactly when the config has time_cond_proj_dim. Returns emb [B, time_embed_dim].
  Tensor operator()(Arena& arena, int64_t batch, float timestep, const Tensor& text_embeds, const Tensor& time_ids,
                    const Tensor& timestep_cond) const;

 private:
  io::UNetConfig config_;
  Linear time_linear_1_, time_linear_2_;
  Linear cond_proj_;  // time_embedding.cond_proj (no bias), with time_cond_proj_dim
  Linear add_linear_1_, add_linear_2_;
};

// down_blocks.* as the config lays them out (input channels block_out_channels[0] from conv_in).
std::vector<DownBlock> bind_down_blocks(WeightBinder& w, const io::UNetConfig& config);
// mid_block.* (UNetMidBlock2DCrossAttn); the config must have one.
MidBlock bind_mid_block(WeightBinder& w, const io::UNetConfig& config);

}  // namespace sdxl::models

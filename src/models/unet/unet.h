// diffusers' UNet2DConditionModel as the SDXL base and refiner configure it:
//   emb = time_embedding(timestep features) + add_embedding([text_embeds | time_ids features])
//   conv_in -> down blocks (skips) -> mid block -> up blocks (consuming skips) ->
//   norm_out, SiLU, conv_out.
// Channels-last inside; NCHW at the boundary, as diffusers' latents are.
#pragma once

#include <memory>
#include <vector>

#include "io/model_configs.h"
#include "models/unet/unet_encoder.h"

namespace sdxl::models {

// What ControlNets add to a UNet forward (diffusers' down_block_additional_residuals and
// mid_block_additional_residual), channels-last: one tensor per skip connection, in the order the
// down path makes them, and one for the mid block's output (both empty: no ControlNet).
// `intrablock`: T2I-Adapter features (down_intrablock_additional_residuals), consumed in order:
// a cross-attention down block adds the next one after its last (resnet, attention) pair, a
// block without attention to its output in place (so to its last skip too, as diffusers does),
// and one left over of the mid block's shape after the mid block. All must be consumed.
// `image_prompt`: an IP-Adapter's keys and values, one [B, T, 2C] per cross-attention layer in
// forward order (down blocks, mid block, up blocks: see cross_attention_layers), or null.
struct ControlResiduals {
  std::vector<Tensor> down;  // [B, h, w, C] each
  Tensor mid;
  std::vector<Tensor> intrablock;  // [B, h, w, C] each
  const std::vector<Tensor>* image_prompt = nullptr;
};

// A cross-attention (attn2) layer as diffusers' attn_processors lists them (down blocks, up
// blocks, then the mid block, each in module order): its channels, and its place in the order the
// forward meets them (down, mid, up).
struct CrossAttentionLayer {
  int64_t channels = 0;
  size_t forward_index = 0;
};
std::vector<CrossAttentionLayer> cross_attention_layers(const io::UNetConfig& config);

class UNet2DConditionModel {
 public:
  static UNet2DConditionModel load(const io::UNetConfig& config, WeightBinder& weights);

  // sample [B, in_channels, h, w] NCHW; context [B, L, cross_attention_dim];
  // text_embeds [B, P] and time_ids [B, K] for addition_embed_type "text_time".
  // Returns the prediction [B, out_channels, h, w] NCHW, in `arena`.
  // timestep_cond [B, time_cond_proj_dim]: LCM-distilled UNets' guidance-scale embedding
  // (required exactly when the config has time_cond_proj_dim).
  // `control`: residuals added to the skip connections and the mid block's output.
  Tensor forward(Arena& arena, const Tensor& sample, float timestep, const Tensor& context, const Tensor& text_embeds,
                 const Tensor& time_ids, const Tensor& timestep_cond = Tensor(),
                 const ControlResiduals* control = nullptr) const;

  const io::UNetConfig& config() const { return config_; }
  // Gives back the memory the up path's arena kept from the largest forward so far.
  void release_activation_memory() { up_arena_ = std::make_unique<Arena>(); }

 private:
  io::UNetConfig config_;
  TimeTextEmbedding embedding_;
  Conv2d conv_in_, conv_out_;
  GroupNorm norm_out_;
  std::vector<DownBlock> down_blocks_;
  MidBlock mid_block_;
  bool has_mid_block_ = false;
  std::vector<UpBlock> up_blocks_;
  // The skip connections of the forward in progress. A model instance runs one forward at a
  // time (the pipeline's worker owns it); keeping the vector keeps its capacity.
  mutable std::vector<Tensor> skips_;
  // The up path's second arena (see ArenaChain): the skips stay in the caller's arena while the
  // up blocks' outputs alternate, instead of stacking up to the end of the forward.
  std::unique_ptr<Arena> up_arena_ = std::make_unique<Arena>();
};

}  // namespace sdxl::models

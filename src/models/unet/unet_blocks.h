// The UNet's blocks, each named after diffusers' class and bound under its checkpoint prefix.
#pragma once

#include <string>
#include <vector>

#include "io/model_configs.h"
#include "models/common/arena_chain.h"
#include "models/common/attention_layers.h"
#include "models/common/conv_layers.h"

namespace sdxl::models {

// An IP-Adapter's image keys and values, one [B, T, 2C] tensor per cross-attention layer in the
// order the forward meets them; each transformer takes its blocks' share. Null kv: no image prompt.
struct ImagePromptCursor {
  const std::vector<Tensor>* kv = nullptr;
  size_t next = 0;
  const Tensor* take(size_t layers);
};

// Transformer2DModel: GroupNorm(eps 1e-6) -> proj_in -> BasicTransformerBlocks -> proj_out,
// added to the input. Channels-last input needs no permute: [B, H, W, C] is [B, HW, C].
class Transformer2D {
 public:
  static Transformer2D bind(WeightBinder& w, const std::string& prefix, int64_t channels, int64_t heads,
                            int64_t layers, int64_t context_dim, int64_t groups, bool linear_projection);
  // x [B, H, W, C], in place; image_kv: one per transformer block (see ImagePromptCursor), or null.
  void operator()(Arena& arena, Tensor& x, const Tensor& context, const Tensor* image_kv = nullptr) const;
  size_t depth() const { return blocks_.size(); }

 private:
  GroupNorm norm_;
  Linear proj_in_, proj_out_;
  std::vector<BasicTransformerBlock> blocks_;
};

// DownBlock2D / CrossAttnDownBlock2D: resnets (each followed by a transformer when it has
// cross-attention), then a stride-2 conv downsampler except on the last level.
struct DownBlock {
  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2D> attentions;  // empty for DownBlock2D
  bool has_downsampler = false;
  Conv2d downsampler;
  // Appends every output to `skips` (the UNet's skip connections) and returns the last.
  // `intrablock` (cross-attention blocks only): added after the last (resnet, attention) pair.
  Tensor operator()(Arena& arena, const Tensor& x, const Tensor& temb_silu, const Tensor& context,
                    std::vector<Tensor>& skips, const Tensor* intrablock = nullptr,
                    ImagePromptCursor* image_prompt = nullptr) const;
};

// UpBlock2D / CrossAttnUpBlock2D: each resnet takes concat(x, the next skip from the end).
struct UpBlock {
  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2D> attentions;
  bool has_upsampler = false;
  Conv2d upsampler;
  // Consumes resnets.size() skips from the back, then upsamples to the size of the next skip
  // (2x, or the odd size of a level whose input was not divisible by 2). Each step runs as a
  // stage of `chain`: its input and temporaries are dropped two stages later.
  Tensor operator()(ArenaChain& chain, Tensor x, const Tensor& temb_silu, const Tensor& context,
                    std::vector<Tensor>& skips, ImagePromptCursor* image_prompt = nullptr) const;
};

// UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) pairs.
struct MidBlock {
  std::vector<ResnetBlock2D> resnets;
  std::vector<Transformer2D> attentions;
  Tensor operator()(Arena& arena, const Tensor& x, const Tensor& temb_silu, const Tensor& context,
                    ImagePromptCursor* image_prompt = nullptr) const;
};

}  // namespace sdxl::models

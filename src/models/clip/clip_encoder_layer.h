// transformers' CLIPEncoderLayer, shared by the text and the vision encoder (pre-LN):
//   x += out_proj(attention(layer_norm1(x)));  x += fc2(act(fc1(layer_norm2(x))))
#pragma once

#include <string>

#include "models/common/layers.h"

namespace sdxl::models {

class ClipEncoderLayer {
 public:
  // `prefix` ends with the layer's index ("text_model.encoder.layers.3").
  static ClipEncoderLayer bind(WeightBinder& w, const std::string& prefix, int64_t hidden, int64_t intermediate, float eps);
  // x [B, L, H] -> the layer's output, a new tensor in `arena` (x is kept: a hidden state).
  Tensor operator()(Arena& arena, const Tensor& x, int64_t heads, bool causal, ops::Activation activation) const;

 private:
  LayerNorm layer_norm1_, layer_norm2_;
  Linear qkv_;  // self_attn.{q,k,v}_proj fused
  Linear out_proj_, fc1_, fc2_;
  ops::Precision precision_ = ops::Precision::F32;  // the layers', for the attention product too
};

// transformers' hidden_act names as an activation.
ops::Activation clip_activation(const std::string& hidden_act);

}  // namespace sdxl::models

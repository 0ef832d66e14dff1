#include "models/clip/clip_encoder_layer.h"

namespace sdxl::models {

ClipEncoderLayer ClipEncoderLayer::bind(WeightBinder& w, const std::string& prefix, int64_t h, int64_t ff, float eps) {
  const std::string p = prefix + ".";
  ClipEncoderLayer layer;
  layer.precision_ = w.precision();
  layer.layer_norm1_ = LayerNorm::bind(w, p + "layer_norm1", h, eps);
  layer.qkv_ = Linear::bind_fused(w, {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, h, h);
  layer.out_proj_ = Linear::bind(w, p + "self_attn.out_proj", h, h);
  layer.layer_norm2_ = LayerNorm::bind(w, p + "layer_norm2", h, eps);
  layer.fc1_ = Linear::bind(w, p + "mlp.fc1", h, ff);
  layer.fc2_ = Linear::bind(w, p + "mlp.fc2", ff, h);
  return layer;
}

Tensor ClipEncoderLayer::operator()(Arena& arena, const Tensor& x, int64_t heads, bool causal,
                                    ops::Activation activation) const {
  Tensor y = ops::copy(arena, x);  // [B, L, H]: the layer's output, kept as a hidden state
  ArenaScope temporaries(arena);
  Tensor qkv = qkv_(arena, layer_norm1_(arena, x));  // [B, L, 3H]
  Tensor attended = ops::attention_fused_qkv(arena, qkv, heads, causal, precision_);
  out_proj_.accumulate(attended, y);
  Tensor hidden = fc1_(arena, layer_norm2_(arena, y));  // [B, L, FF]
  ops::activate_inplace(hidden, activation);
  fc2_.accumulate(hidden, y);
  return y;
}

ops::Activation clip_activation(const std::string& act) {
  return act == "quick_gelu" ? ops::Activation::QuickGelu
         : act == "gelu"     ? ops::Activation::GeluErf
                             : ops::Activation::GeluTanh;  // gelu_new, gelu_pytorch_tanh
}

}  // namespace sdxl::models

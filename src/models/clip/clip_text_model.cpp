#include "models/clip/clip_text_model.h"

#include <cstring>

#include "core/error.h"

namespace sdxl::models {

ClipTextModel ClipTextModel::load(const io::ClipTextConfig& config, WeightBinder& w) {
  ClipTextModel m;
  m.config_ = config;
  const int64_t h = config.hidden_size, ff = config.intermediate_size;
  const float eps = static_cast<float>(config.layer_norm_eps);
  const std::string root = "text_model.";
  m.token_embedding_ = w.take(root + "embeddings.token_embedding.weight", Shape{config.vocab_size, h});
  m.position_embedding_ =
      to_f32(w.take(root + "embeddings.position_embedding.weight", Shape{config.max_position_embeddings, h}));
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = root + "encoder.layers." + std::to_string(i) + ".";
    EncoderLayer layer;
    layer.layer_norm1 = LayerNorm::bind(w, p + "layer_norm1", h, eps);
    layer.qkv = Linear::bind_fused(w, {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}, h, h);
    layer.out_proj = Linear::bind(w, p + "self_attn.out_proj", h, h);
    layer.layer_norm2 = LayerNorm::bind(w, p + "layer_norm2", h, eps);
    layer.fc1 = Linear::bind(w, p + "mlp.fc1", h, ff);
    layer.fc2 = Linear::bind(w, p + "mlp.fc2", ff, h);
    m.layers_.push_back(std::move(layer));
  }
  m.final_layer_norm_ = LayerNorm::bind(w, root + "final_layer_norm", h, eps);
  if (config.with_projection())
    m.text_projection_ = Linear::bind(w, "text_projection", h, config.projection_dim, /*bias=*/false);
  const std::string& act = config.hidden_act;
  m.activation_ = act == "quick_gelu" ? ops::Activation::QuickGelu
                  : act == "gelu"     ? ops::Activation::GeluErf
                                      : ops::Activation::GeluTanh;  // gelu_new, gelu_pytorch_tanh
  return m;
}

Tensor ClipTextModel::encoder_layer(Arena& arena, const EncoderLayer& layer, const Tensor& x) const {
  Tensor y = ops::copy(arena, x);  // [B, L, H]: the layer's output, kept as a hidden state
  ArenaScope temporaries(arena);
  Tensor qkv = layer.qkv(arena, layer.layer_norm1(arena, x));  // [B, L, 3H]
  Tensor attended = ops::attention_fused_qkv(arena, qkv, config_.num_attention_heads, /*causal=*/true);
  layer.out_proj.accumulate(attended, y);
  Tensor hidden = layer.fc1(arena, layer.layer_norm2(arena, y));  // [B, L, FF]
  ops::activate_inplace(hidden, activation_);
  layer.fc2.accumulate(hidden, y);
  return y;
}

// transformers 4.32: with the legacy eos_token_id == 2 the pooled token is at argmax(ids) (the
// first highest id: <|endoftext|> in CLIP's vocabulary); otherwise at the first eos_token_id.
int64_t ClipTextModel::pooled_position(const int32_t* row, int64_t length) const {
  int64_t best = 0;
  if (config_.eos_token_id == 2) {
    for (int64_t i = 1; i < length; ++i)
      if (row[i] > row[best]) best = i;
    return best;
  }
  for (int64_t i = 0; i < length; ++i)
    if (row[i] == config_.eos_token_id) return i;
  return 0;  // torch's argmax of an all-zero mask
}

ClipTextOutput ClipTextModel::forward(Arena& arena, const std::vector<int32_t>& ids, int64_t batch, int64_t layers,
                                      const std::vector<TokenOverride>& overrides) const {
  const int64_t h = config_.hidden_size;
  const int64_t total_layers = static_cast<int64_t>(layers_.size());
  if (layers < 0) layers = total_layers;
  SDXL_CHECK(batch > 0 && !ids.empty() && ids.size() % static_cast<size_t>(batch) == 0, InvalidArgument,
             "[clip] ", ids.size(), " token ids do not split into ", batch, " sequences");
  SDXL_CHECK(layers <= total_layers, InvalidArgument, "[clip] asked for ", layers, " layers of ", total_layers);
  const int64_t length = static_cast<int64_t>(ids.size()) / batch;
  SDXL_CHECK(length <= config_.max_position_embeddings, InvalidArgument, "[clip] ", length,
             " tokens exceed max_position_embeddings ", config_.max_position_embeddings);

  ClipTextOutput out;
  Tensor x = ops::gather_rows(arena, token_embedding_, ids.data(), static_cast<int64_t>(ids.size()))
                 .reshape(Shape{batch, length, h});
  Tensor tokens = x.reshape(Shape{batch * length, h});
  for (const TokenOverride& o : overrides) {
    SDXL_CHECK(o.row >= 0 && o.row < batch && o.position >= 0 && o.position < length && o.vector, InvalidArgument,
               "[clip] token override at ", o.row, ",", o.position, " is outside the ", batch, "x", length, " ids");
    ops::write_rows(tokens, o.row * length + o.position, Tensor::view(o.vector, Shape{1, h}, DType::F32, nullptr));
  }
  ops::add_to_each_inplace(x, position_embedding_.slice_rows(0, length));
  out.hidden_states.push_back(x);
  for (int64_t i = 0; i < layers; ++i) out.hidden_states.push_back(encoder_layer(arena, layers_[static_cast<size_t>(i)], out.hidden_states.back()));
  if (layers < total_layers) return out;

  out.last_hidden_state = final_layer_norm_(arena, out.hidden_states.back());
  std::vector<int32_t> pooled_rows(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b)
    pooled_rows[static_cast<size_t>(b)] = static_cast<int32_t>(b * length + pooled_position(ids.data() + b * length, length));
  out.pooled = ops::gather_rows(arena, out.last_hidden_state.reshape(Shape{batch * length, h}), pooled_rows.data(), batch);
  if (config_.with_projection()) out.text_embeds = text_projection_(arena, out.pooled);
  return out;
}

}  // namespace sdxl::models

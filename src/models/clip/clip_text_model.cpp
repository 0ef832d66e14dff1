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
  for (int64_t i = 0; i < config.num_hidden_layers; ++i)
    m.layers_.push_back(ClipEncoderLayer::bind(w, root + "encoder.layers." + std::to_string(i), h, ff, eps));
  m.final_layer_norm_ = LayerNorm::bind(w, root + "final_layer_norm", h, eps);
  if (config.with_projection())
    m.text_projection_ = Linear::bind(w, "text_projection", h, config.projection_dim, /*bias=*/false);
  m.activation_ = clip_activation(config.hidden_act);
  return m;
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
  for (int64_t i = 0; i < layers; ++i) {
    const ClipEncoderLayer& layer = layers_[static_cast<size_t>(i)];
    out.hidden_states.push_back(layer(arena, out.hidden_states.back(), config_.num_attention_heads, /*causal=*/true, activation_));
  }
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

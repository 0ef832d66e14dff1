// transformers' CLIPTextModel and CLIPTextModelWithProjection, as SDXL uses them:
//   embeddings = token_embedding[ids] + position_embedding[0..L)
//   each layer (pre-LN): x += out_proj(causal_attention(layer_norm1(x)));
//                        x += fc2(act(fc1(layer_norm2(x))))
//   last_hidden_state = final_layer_norm(x); pooled = last_hidden_state at the EOS position;
//   text_embeds = text_projection(pooled) (no bias), with projection only.
#pragma once

#include <cstdint>
#include <vector>

#include "io/model_configs.h"
#include "models/clip/clip_encoder_layer.h"
#include "models/common/layers.h"

namespace sdxl::models {

struct ClipTextOutput {
  // [B, L, H] each: [0] the embeddings, [i] the output of layer i (before the final norm).
  std::vector<Tensor> hidden_states;
  Tensor last_hidden_state;  // [B, L, H]; undefined when not all layers ran
  Tensor pooled;             // [B, H]
  Tensor text_embeds;        // [B, projection_dim]; with projection only
};

// A token position whose embedding is given instead of looked up (textual inversion: the
// vectors of an embedding file take the places of its name's tokens).
struct TokenOverride {
  int64_t row = 0, position = 0;  // sequence in the batch, token position in it
  const float* vector = nullptr;  // hidden_size values, f32
};

class ClipTextModel {
 public:
  static ClipTextModel load(const io::ClipTextConfig& config, WeightBinder& weights);

  // ids: batch x L token ids, row-major. Runs the first `layers` encoder layers (all by default:
  // then the final norm, pooled output and projection too). Outputs live in `arena`.
  ClipTextOutput forward(Arena& arena, const std::vector<int32_t>& ids, int64_t batch, int64_t layers = -1,
                         const std::vector<TokenOverride>& overrides = {}) const;

  const io::ClipTextConfig& config() const { return config_; }
  // Checkpoint buffers the model recomputes instead of reading.
  static std::vector<std::string> ignored_tensors() { return {"position_ids"}; }

 private:
  int64_t pooled_position(const int32_t* row, int64_t length) const;

  io::ClipTextConfig config_;
  Tensor token_embedding_;     // [V, H], any float dtype (rows converted when gathered)
  Tensor position_embedding_;  // [P, H] f32
  std::vector<ClipEncoderLayer> layers_;
  LayerNorm final_layer_norm_;
  Linear text_projection_;
  ops::Activation activation_ = ops::Activation::QuickGelu;
};

}  // namespace sdxl::models

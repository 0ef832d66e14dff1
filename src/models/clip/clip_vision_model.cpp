#include "models/clip/clip_vision_model.h"

#include "core/error.h"

namespace sdxl::models {

ClipVisionModel ClipVisionModel::load(const io::ClipVisionConfig& c, WeightBinder& w) {
  ClipVisionModel m;
  m.config_ = c;
  const int64_t h = c.hidden_size;
  const float eps = static_cast<float>(c.layer_norm_eps);
  const std::string root = "vision_model.";
  m.patch_embedding_ = Conv2d::bind(w, root + "embeddings.patch_embedding",
                                    Conv2dGeometry{h, c.num_channels, c.patch_size, c.patch_size, 0, 0, 0, 0},
                                    /*bias=*/false);
  m.class_embedding_ = to_f32(w.take(root + "embeddings.class_embedding", Shape{h}));
  m.position_embedding_ = to_f32(w.take(root + "embeddings.position_embedding.weight", Shape{c.tokens(), h}));
  m.pre_layrnorm_ = LayerNorm::bind(w, root + "pre_layrnorm", h, eps);
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    m.layers_.push_back(ClipEncoderLayer::bind(w, root + "encoder.layers." + std::to_string(i), h, c.intermediate_size, eps));
  m.post_layernorm_ = LayerNorm::bind(w, root + "post_layernorm", h, eps);
  m.visual_projection_ = Linear::bind(w, "visual_projection", h, c.projection_dim, /*bias=*/false);
  m.activation_ = clip_activation(c.hidden_act);
  return m;
}

ClipVisionOutput ClipVisionModel::forward(Arena& arena, const Tensor& pixels) const {
  const auto& c = config_;
  SDXL_CHECK(pixels.rank() == 4 && pixels.dim(1) == c.num_channels && pixels.dim(2) == c.image_size &&
                 pixels.dim(3) == c.image_size && pixels.dtype() == DType::F32,
             InvalidArgument, "[clip-vision] pixel_values must be f32 [B, ", c.num_channels, ", ", c.image_size, ", ",
             c.image_size, "], got ", pixels.shape().to_string());
  const int64_t batch = pixels.dim(0), h = c.hidden_size, tokens = c.tokens();
  ClipVisionOutput out;
  Tensor x = Tensor::in_arena(arena, Shape{batch, tokens, h}, DType::F32);
  {
    ArenaScope temporaries(arena);
    // [B, g, g, H] channels-last is [B, g*g, H]: the patches in row-major order, as torch's flatten.
    const Tensor patches = patch_embedding_(arena, ops::nchw_to_nhwc(arena, pixels)).reshape(Shape{batch * (tokens - 1), h});
    Tensor rows = x.reshape(Shape{batch * tokens, h});
    for (int64_t b = 0; b < batch; ++b) {
      ops::write_rows(rows, b * tokens, class_embedding_.reshape(Shape{1, h}));
      ops::write_rows(rows, b * tokens + 1, patches.slice_rows(b * (tokens - 1), tokens - 1));
    }
    ops::add_to_each_inplace(x, position_embedding_);
  }
  out.hidden_states.push_back(pre_layrnorm_(arena, x));
  for (const ClipEncoderLayer& layer : layers_)
    out.hidden_states.push_back(layer(arena, out.hidden_states.back(), c.num_attention_heads, /*causal=*/false, activation_));
  std::vector<int32_t> class_rows;
  for (int64_t b = 0; b < batch; ++b) class_rows.push_back(static_cast<int32_t>(b * tokens));
  const Tensor pooled =
      ops::gather_rows(arena, out.hidden_states.back().reshape(Shape{batch * tokens, h}), class_rows.data(), batch);
  out.image_embeds = visual_projection_(arena, post_layernorm_(arena, pooled));
  return out;
}

}  // namespace sdxl::models

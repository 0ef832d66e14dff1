#include "io/clip_vision_config.h"

#include "io/json_file.h"

namespace sdxl::io {

ClipVisionConfig parse_clip_vision_config(const nlohmann::json& json, const std::string& origin) {
  JsonFields f(json, origin, "config");
  const auto architectures = f.strings("architectures", {"CLIPVisionModelWithProjection"});
  const std::string architecture = architectures.empty() ? "CLIPVisionModelWithProjection" : architectures.front();
  if (architecture != "CLIPVisionModelWithProjection")
    f.unsupported("architectures", architecture, "CLIPVisionModelWithProjection (an image encoder with its projection)");
  const std::string model_type = f.string("model_type", "clip_vision_model");
  if (model_type != "clip_vision_model") f.unsupported("model_type", model_type, "clip_vision_model");
  ClipVisionConfig c;
  c.hidden_size = f.integer("hidden_size", c.hidden_size);
  c.intermediate_size = f.integer("intermediate_size", c.intermediate_size);
  c.projection_dim = f.integer("projection_dim", c.projection_dim);
  c.num_hidden_layers = f.integer("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = f.integer("num_attention_heads", c.num_attention_heads);
  c.num_channels = f.integer("num_channels", c.num_channels);
  c.image_size = f.integer("image_size", c.image_size);
  c.patch_size = f.integer("patch_size", c.patch_size);
  c.hidden_act = f.string("hidden_act", c.hidden_act);
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu" && c.hidden_act != "gelu_new" &&
      c.hidden_act != "gelu_pytorch_tanh")
    f.unsupported("hidden_act", c.hidden_act, "quick_gelu, gelu, gelu_new, gelu_pytorch_tanh");
  c.layer_norm_eps = f.number("layer_norm_eps", c.layer_norm_eps);
  for (const char* key : {"hidden_size", "intermediate_size", "projection_dim", "num_hidden_layers", "num_attention_heads",
                          "image_size", "patch_size"})
    if (f.integer(key, 1) <= 0 || f.integer(key, 1) > 65536) f.bad(key, "must be in [1, 65536]");
  if (c.num_hidden_layers < 2) f.bad("num_hidden_layers", "must be at least 2 (IP-Adapter plus reads the penultimate layer)");
  if (c.num_channels != 3) f.bad("num_channels", "must be 3 (RGB)");
  if (c.hidden_size % c.num_attention_heads != 0)
    f.bad("num_attention_heads", "must divide hidden_size (" + std::to_string(c.hidden_size) + ")");
  if (c.image_size % c.patch_size != 0) f.bad("patch_size", "must divide image_size (" + std::to_string(c.image_size) + ")");
  return c;
}

}  // namespace sdxl::io

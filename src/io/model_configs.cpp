#include "io/model_configs.h"

#include <algorithm>

#include "io/json_file.h"

namespace sdxl::io {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void require_one_of(const JsonFields& f, const char* key, const std::string& value,
                    const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) f.unsupported(key, value, join(allowed));
}

// Fields that must keep their default for us to run the model correctly.
void require_null(const JsonFields& f, const char* key) {
  if (f.has(key)) f.unsupported(key, f.raw().at(key).dump(), "null");
}
void require_bool(const JsonFields& f, const char* key, bool expected) {
  if (f.boolean(key, expected) != expected) f.unsupported(key, expected ? "false" : "true", expected ? "true" : "false");
}

}  // namespace

ClipTextConfig load_clip_text_config(const std::filesystem::path& path) {
  return parse_clip_text_config(read_json_object(path, "config"), path.string());
}

ClipTextConfig parse_clip_text_config(const nlohmann::json& json, const std::string& origin) {
  JsonFields f(json, origin, "config");
  ClipTextConfig c;
  auto architectures = f.strings("architectures", {c.architecture});
  c.architecture = architectures.empty() ? c.architecture : architectures.front();
  require_one_of(f, "architectures", c.architecture, {"CLIPTextModel", "CLIPTextModelWithProjection"});
  c.vocab_size = f.integer("vocab_size", c.vocab_size);
  c.hidden_size = f.integer("hidden_size", c.hidden_size);
  c.intermediate_size = f.integer("intermediate_size", c.intermediate_size);
  c.projection_dim = f.integer("projection_dim", c.projection_dim);
  c.num_hidden_layers = f.integer("num_hidden_layers", c.num_hidden_layers);
  c.num_attention_heads = f.integer("num_attention_heads", c.num_attention_heads);
  c.max_position_embeddings = f.integer("max_position_embeddings", c.max_position_embeddings);
  c.hidden_act = f.string("hidden_act", c.hidden_act);
  require_one_of(f, "hidden_act", c.hidden_act, {"quick_gelu", "gelu", "gelu_new", "gelu_pytorch_tanh"});
  c.layer_norm_eps = f.number("layer_norm_eps", c.layer_norm_eps);
  c.bos_token_id = f.integer("bos_token_id", c.bos_token_id);
  c.eos_token_id = f.integer("eos_token_id", c.eos_token_id);
  c.pad_token_id = f.integer("pad_token_id", c.pad_token_id);
  for (const char* key : {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "max_position_embeddings", "projection_dim"})
    if (f.integer(key, 1) <= 0) f.bad(key, "must be positive");
  if (c.hidden_size % c.num_attention_heads != 0)
    f.bad("num_attention_heads", "must divide hidden_size (" + std::to_string(c.hidden_size) + ")");
  return c;
}

UNetConfig load_unet_config(const std::filesystem::path& path) {
  return parse_unet_config(read_json_object(path, "config"), path.string());
}

UNetConfig parse_unet_config(const nlohmann::json& json, const std::string& origin) {
  JsonFields f(json, origin, "config");
  UNetConfig c;
  c.sample_size = f.integer("sample_size", 0);
  c.in_channels = f.integer("in_channels", 4);
  c.out_channels = f.integer("out_channels", 4);
  c.center_input_sample = f.boolean("center_input_sample", false);
  c.flip_sin_to_cos = f.boolean("flip_sin_to_cos", true);
  c.freq_shift = f.integer("freq_shift", 0);
  c.block_out_channels = f.integers("block_out_channels", {320, 640, 1280, 1280});
  const size_t levels = c.block_out_channels.size();
  if (levels == 0) f.bad("block_out_channels", "is empty");
  c.down_block_types = f.strings("down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                      "CrossAttnDownBlock2D", "DownBlock2D"});
  c.up_block_types =
      f.strings("up_block_types", {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"});
  if (c.down_block_types.size() != levels || c.up_block_types.size() != levels)
    f.bad("down_block_types", "and up_block_types must have one entry per block_out_channels entry");
  for (const auto& t : c.down_block_types) require_one_of(f, "down_block_types", t, {"DownBlock2D", "CrossAttnDownBlock2D"});
  for (const auto& t : c.up_block_types) require_one_of(f, "up_block_types", t, {"UpBlock2D", "CrossAttnUpBlock2D"});
  c.mid_block_type = f.has("mid_block_type") ? f.string("mid_block_type", "") : (f.raw().contains("mid_block_type") ? "" : "UNetMidBlock2DCrossAttn");
  require_one_of(f, "mid_block_type", c.mid_block_type, {"UNetMidBlock2DCrossAttn", ""});

  c.layers_per_block = f.per_level("layers_per_block", 2, levels);
  c.transformer_layers_per_block = f.per_level("transformer_layers_per_block", 1, levels);
  if (f.has("reverse_transformer_layers_per_block"))
    c.reverse_transformer_layers_per_block = f.per_level("reverse_transformer_layers_per_block", 1, levels);
  // diffusers: num_attention_heads defaults to attention_head_dim (a historical naming mix-up:
  // in these configs attention_head_dim is the number of heads).
  const char* heads_key = f.has("num_attention_heads") ? "num_attention_heads" : "attention_head_dim";
  c.num_attention_heads = f.per_level(heads_key, 8, levels);
  c.cross_attention_dim = f.per_level("cross_attention_dim", 1280, levels);
  c.downsample_padding = f.integer("downsample_padding", 1);
  c.mid_block_scale_factor = f.number("mid_block_scale_factor", 1.0);
  c.act_fn = f.string("act_fn", "silu");
  require_one_of(f, "act_fn", c.act_fn, {"silu", "swish"});
  c.norm_num_groups = f.integer("norm_num_groups", 32);
  c.norm_eps = f.number("norm_eps", 1e-5);
  c.use_linear_projection = f.boolean("use_linear_projection", false);
  c.upcast_attention = f.boolean("upcast_attention", false);
  c.addition_embed_type = f.string("addition_embed_type", "");
  require_one_of(f, "addition_embed_type", c.addition_embed_type, {"", "text_time"});
  c.addition_time_embed_dim = f.integer("addition_time_embed_dim", 0);
  if (f.has("time_cond_proj_dim") && !f.raw().at("time_cond_proj_dim").is_null()) {
    c.time_cond_proj_dim = f.integer("time_cond_proj_dim", 0);
    if (c.time_cond_proj_dim <= 0 || c.time_cond_proj_dim > 4096) f.bad("time_cond_proj_dim", "must be in [1, 4096]");
  }
  c.projection_class_embeddings_input_dim = f.integer("projection_class_embeddings_input_dim", 0);
  if (c.addition_embed_type == "text_time" && (c.addition_time_embed_dim <= 0 || c.projection_class_embeddings_input_dim <= 0))
    f.bad("addition_time_embed_dim", "and projection_class_embeddings_input_dim are required by addition_embed_type text_time");
  c.time_embedding_dim = f.integer("time_embedding_dim", 0);
  c.conv_in_kernel = f.integer("conv_in_kernel", 3);
  c.conv_out_kernel = f.integer("conv_out_kernel", 3);
  if (c.conv_in_kernel % 2 == 0 || c.conv_out_kernel % 2 == 0) f.bad("conv_in_kernel", "must be odd");
  if (c.in_channels <= 0 || c.out_channels <= 0) f.bad("in_channels", "and out_channels must be positive");
  for (size_t i = 0; i < levels; ++i) {
    if (c.block_out_channels[i] <= 0 || c.block_out_channels[i] % c.norm_num_groups != 0)
      f.bad("block_out_channels", "entries must be positive multiples of norm_num_groups");
    if (c.num_attention_heads[i] <= 0 || c.block_out_channels[i] % c.num_attention_heads[i] != 0)
      f.bad(heads_key, "must divide each level's channels");
  }

  // Features of UNet2DConditionModel that SDXL does not use and we do not implement.
  require_null(f, "class_embed_type");
  require_null(f, "num_class_embeds");
  require_null(f, "encoder_hid_dim");
  require_null(f, "encoder_hid_dim_type");
  require_null(f, "time_embedding_act_fn");
  require_null(f, "timestep_post_act");
  require_null(f, "mid_block_only_cross_attention");
  require_null(f, "cross_attention_norm");
  require_bool(f, "dual_cross_attention", false);
  require_bool(f, "only_cross_attention", false);
  require_bool(f, "resnet_skip_time_act", false);
  require_bool(f, "class_embeddings_concat", false);
  if (f.has("only_cross_attention") && !f.raw().at("only_cross_attention").is_boolean())
    f.unsupported("only_cross_attention", f.raw().at("only_cross_attention").dump(), "false");
  require_one_of(f, "resnet_time_scale_shift", f.string("resnet_time_scale_shift", "default"), {"default"});
  require_one_of(f, "time_embedding_type", f.string("time_embedding_type", "positional"), {"positional"});
  require_one_of(f, "attention_type", f.string("attention_type", "default"), {"default"});
  if (f.number("resnet_out_scale_factor", 1.0) != 1.0)
    f.unsupported("resnet_out_scale_factor", f.raw().at("resnet_out_scale_factor").dump(), "1.0");
  return c;
}

VaeConfig load_vae_config(const std::filesystem::path& path) {
  return parse_vae_config(read_json_object(path, "config"), path.string());
}

VaeConfig parse_vae_config(const nlohmann::json& json, const std::string& origin) {
  JsonFields f(json, origin, "config");
  VaeConfig c;
  c.in_channels = f.integer("in_channels", c.in_channels);
  c.out_channels = f.integer("out_channels", c.out_channels);
  c.block_out_channels = f.integers("block_out_channels", c.block_out_channels);
  c.down_block_types = f.strings("down_block_types", c.down_block_types);
  c.up_block_types = f.strings("up_block_types", c.up_block_types);
  if (c.block_out_channels.empty()) f.bad("block_out_channels", "is empty");
  if (c.down_block_types.size() != c.block_out_channels.size() || c.up_block_types.size() != c.block_out_channels.size())
    f.bad("down_block_types", "and up_block_types must have one entry per block_out_channels entry");
  for (const auto& t : c.down_block_types) require_one_of(f, "down_block_types", t, {"DownEncoderBlock2D"});
  for (const auto& t : c.up_block_types) require_one_of(f, "up_block_types", t, {"UpDecoderBlock2D"});
  c.layers_per_block = f.integer("layers_per_block", c.layers_per_block);
  c.act_fn = f.string("act_fn", c.act_fn);
  require_one_of(f, "act_fn", c.act_fn, {"silu", "swish"});
  c.latent_channels = f.integer("latent_channels", c.latent_channels);
  c.norm_num_groups = f.integer("norm_num_groups", c.norm_num_groups);
  c.sample_size = f.integer("sample_size", c.sample_size);
  c.scaling_factor = f.number("scaling_factor", c.scaling_factor);
  c.force_upcast = f.boolean("force_upcast", c.force_upcast);
  for (int64_t ch : c.block_out_channels)
    if (ch <= 0 || ch % c.norm_num_groups != 0) f.bad("block_out_channels", "entries must be positive multiples of norm_num_groups");
  if (c.layers_per_block <= 0 || c.latent_channels <= 0) f.bad("layers_per_block", "and latent_channels must be positive");
  if (!(c.scaling_factor > 0)) f.bad("scaling_factor", "must be positive");
  if (f.has("latents_mean")) {
    for (const auto& v : f.raw().at("latents_mean")) c.latents_mean.push_back(v.get<double>());
    for (const auto& v : f.raw().at("latents_std")) c.latents_std.push_back(v.get<double>());
  }
  if (f.has("use_quant_conv") && !f.boolean("use_quant_conv", true)) f.unsupported("use_quant_conv", "false", "true");
  if (f.has("use_post_quant_conv") && !f.boolean("use_post_quant_conv", true))
    f.unsupported("use_post_quant_conv", "false", "true");
  return c;
}

TinyAutoencoderConfig parse_tiny_autoencoder_config(const nlohmann::json& json, const std::string& origin) {
  JsonFields f(json, origin, "config");
  const std::string cls = f.string("_class_name", "");
  if (cls != "AutoencoderTiny") f.bad("_class_name", "is '" + cls + "': not a tiny autoencoder (AutoencoderTiny, as madebyollin/taesdxl)");
  TinyAutoencoderConfig c;
  c.in_channels = f.integer("in_channels", c.in_channels);
  c.out_channels = f.integer("out_channels", c.out_channels);
  c.latent_channels = f.integer("latent_channels", c.latent_channels);
  c.encoder_block_out_channels = f.integers("encoder_block_out_channels", c.encoder_block_out_channels);
  c.decoder_block_out_channels = f.integers("decoder_block_out_channels", c.decoder_block_out_channels);
  c.num_encoder_blocks = f.integers("num_encoder_blocks", c.num_encoder_blocks);
  c.num_decoder_blocks = f.integers("num_decoder_blocks", c.num_decoder_blocks);
  c.upsampling_scaling_factor = f.integer("upsampling_scaling_factor", c.upsampling_scaling_factor);
  c.scaling_factor = f.number("scaling_factor", c.scaling_factor);
  require_one_of(f, "act_fn", f.string("act_fn", "relu"), {"relu"});
  if (c.upsampling_scaling_factor != 2) f.unsupported("upsampling_scaling_factor", std::to_string(c.upsampling_scaling_factor), "2");
  const size_t levels = c.encoder_block_out_channels.size();
  if (levels < 1 || levels > 8 || c.num_encoder_blocks.size() != levels || c.decoder_block_out_channels.size() != levels ||
      c.num_decoder_blocks.size() != levels)
    f.bad("encoder_block_out_channels", "the block lists must have one entry per level (1 to 8), all the same length");
  for (const auto* list : {&c.encoder_block_out_channels, &c.decoder_block_out_channels})
    for (int64_t v : *list)
      if (v <= 0 || v > 4096) f.bad("block_out_channels", "channels must be in [1, 4096]");
  for (const auto* list : {&c.num_encoder_blocks, &c.num_decoder_blocks})
    for (int64_t v : *list)
      if (v < 0 || v > 64) f.bad("num_blocks", "block counts must be in [0, 64]");
  if (c.in_channels <= 0 || c.out_channels <= 0 || c.latent_channels <= 0 || c.in_channels > 64 || c.out_channels > 64 ||
      c.latent_channels > 64)
    f.bad("latent_channels", "channel counts must be in [1, 64]");
  if (!(c.scaling_factor > 0)) f.bad("scaling_factor", "must be positive");
  return c;
}

}  // namespace sdxl::io

// Typed configs of the SDXL components, filled from config.json with the defaults diffusers and
// transformers use for absent fields. Every difference between variants (base vs refiner, tiny
// vs real) lives here; values we cannot run are rejected at parse time with a clear error.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sdxl::io {

// transformers' CLIPTextConfig (CLIPTextModel / CLIPTextModelWithProjection).
struct ClipTextConfig {
  std::string architecture = "CLIPTextModel";  // or CLIPTextModelWithProjection
  int64_t vocab_size = 49408;
  int64_t hidden_size = 512;
  int64_t intermediate_size = 2048;
  int64_t projection_dim = 512;
  int64_t num_hidden_layers = 12;
  int64_t num_attention_heads = 8;
  int64_t max_position_embeddings = 77;
  std::string hidden_act = "quick_gelu";  // quick_gelu, gelu, gelu_new, gelu_pytorch_tanh
  double layer_norm_eps = 1e-5;
  int64_t bos_token_id = 49406;
  int64_t eos_token_id = 49407;
  int64_t pad_token_id = 1;

  bool with_projection() const { return architecture == "CLIPTextModelWithProjection"; }
};

// diffusers' UNet2DConditionModel, restricted to what SDXL-style configs use.
struct UNetConfig {
  int64_t sample_size = 0;  // 0: unset
  int64_t in_channels = 4;
  int64_t out_channels = 4;
  bool center_input_sample = false;
  bool flip_sin_to_cos = true;
  int64_t freq_shift = 0;
  std::vector<std::string> down_block_types;
  std::string mid_block_type = "UNetMidBlock2DCrossAttn";  // "" when the config says null
  std::vector<std::string> up_block_types;
  std::vector<int64_t> block_out_channels;
  std::vector<int64_t> layers_per_block;              // per level
  std::vector<int64_t> transformer_layers_per_block;  // per level (down blocks; mid uses the last)
  std::vector<int64_t> reverse_transformer_layers_per_block;  // per up level; empty: reverse of the above
  std::vector<int64_t> num_attention_heads;  // per level, diffusers' rule: attention_head_dim when absent
  std::vector<int64_t> cross_attention_dim;  // per level
  int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1.0;
  std::string act_fn = "silu";
  int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  bool use_linear_projection = false;
  bool upcast_attention = false;
  std::string addition_embed_type;  // "" or "text_time"
  int64_t addition_time_embed_dim = 0;
  // LCM-distilled UNets: the width of the guidance-scale embedding added to the timestep's (0: none).
  int64_t time_cond_proj_dim = 0;
  int64_t projection_class_embeddings_input_dim = 0;
  int64_t time_embedding_dim = 0;  // 0: block_out_channels[0] * 4
  int64_t conv_in_kernel = 3;
  int64_t conv_out_kernel = 3;

  size_t levels() const { return block_out_channels.size(); }
  int64_t time_embed_dim() const { return time_embedding_dim ? time_embedding_dim : block_out_channels.at(0) * 4; }
};

// diffusers' AutoencoderKL.
struct VaeConfig {
  int64_t in_channels = 3;
  int64_t out_channels = 3;
  std::vector<std::string> down_block_types{"DownEncoderBlock2D"};
  std::vector<std::string> up_block_types{"UpDecoderBlock2D"};
  std::vector<int64_t> block_out_channels{64};
  int64_t layers_per_block = 1;
  std::string act_fn = "silu";
  int64_t latent_channels = 4;
  int64_t norm_num_groups = 32;
  int64_t sample_size = 32;
  double scaling_factor = 0.18215;
  bool force_upcast = true;
  std::vector<double> latents_mean;  // optional (newer configs); empty when absent
  std::vector<double> latents_std;

  // Pixels per latent along each side (diffusers' vae_scale_factor): 8 for SDXL.
  int64_t scale() const { return int64_t{1} << (block_out_channels.size() - 1); }
};

// From a config.json file, or from its JSON object (a single-file checkpoint's built-in or given
// config); `origin` names it in error messages. The scheduler's config is parsed by the pipeline
// (pipeline/scheduler_spec.h) into the samplers' one SchedulerSpec.
// diffusers' AutoencoderTiny (TAESD, madebyollin/taesdxl): the config fields it uses.
struct TinyAutoencoderConfig {
  int64_t in_channels = 3, out_channels = 3, latent_channels = 4;
  std::vector<int64_t> encoder_block_out_channels{64, 64, 64, 64};
  std::vector<int64_t> decoder_block_out_channels{64, 64, 64, 64};
  std::vector<int64_t> num_encoder_blocks{1, 3, 3, 3};
  std::vector<int64_t> num_decoder_blocks{3, 3, 3, 1};
  int64_t upsampling_scaling_factor = 2;
  double scaling_factor = 1.0;
  // Pixels per latent along each side: one downsampling per encoder level after the first.
  int64_t scale() const { return int64_t{1} << (encoder_block_out_channels.size() - 1); }
};

ClipTextConfig load_clip_text_config(const std::filesystem::path& config_json);
UNetConfig load_unet_config(const std::filesystem::path& config_json);
VaeConfig load_vae_config(const std::filesystem::path& config_json);
ClipTextConfig parse_clip_text_config(const nlohmann::json& config, const std::string& origin);
UNetConfig parse_unet_config(const nlohmann::json& config, const std::string& origin);
VaeConfig parse_vae_config(const nlohmann::json& config, const std::string& origin);
// Refuses a config that is not an AutoencoderTiny (by _class_name) or has values we cannot run.
TinyAutoencoderConfig parse_tiny_autoencoder_config(const nlohmann::json& config, const std::string& origin);

}  // namespace sdxl::io

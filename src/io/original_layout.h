// The original Stability (SGM) layout of single-file SDXL checkpoints (sd_xl_base_1.0.safetensors
// and the fine-tunes on model sites), mapped key by key to the diffusers names our models bind:
// prefixes `model.diffusion_model.` (UNet), `first_stage_model.` (VAE),
// `conditioner.embedders.0.transformer.` (CLIP-L, transformers names) and
// `conditioner.embedders.{1,0}.model.` (OpenCLIP bigG; the refiner has it at 0). The keys given
// here are the ones after their component's prefix.
#pragma once

#include <string>
#include <vector>

#include "io/model_configs.h"

namespace sdxl::io {

// What a stored tensor needs to become the diffusers one.
enum class KeyTransform {
  Same,
  SqueezeConv1x1,  // [C, C, 1, 1] -> [C, C]: the VAE attention's q/k/v/proj_out, stored as 1x1 convs
  QkvPart,         // rows [part * n/3, (part + 1) * n/3) of OpenCLIP's fused in_proj (q, k, v)
  Transpose,       // OpenCLIP's text_projection [H, P] -> transformers' text_projection.weight [P, H]
};

struct MappedKey {
  std::string name;  // the diffusers name
  KeyTransform transform = KeyTransform::Same;
  int part = 0;  // QkvPart: 0 q, 1 k, 2 v
};

// The UNet's block structure the SGM numbering depends on.
struct UNetLayout {
  int64_t levels = 0;
  int64_t layers_per_block = 2;
  std::vector<bool> down_has_attention, up_has_attention;
};
UNetLayout unet_layout(const UNetConfig& config);

// Each returns the diffusers tensor(s) a stored key stands for; empty: not a key of that
// component (the caller decides whether that is an error or a known extra to ignore).
std::vector<MappedKey> map_unet_key(const std::string& key, const UNetLayout& layout);
// The other way: the original key of a diffusers UNet key (a module path works as well as a
// tensor name); empty when the layout has no such module.
std::string unet_original_key(const std::string& diffusers_key, const UNetLayout& layout);
std::vector<MappedKey> map_vae_key(const std::string& key, int64_t levels);
std::vector<MappedKey> map_clip_l_key(const std::string& key);
std::vector<MappedKey> map_open_clip_key(const std::string& key);

// The other way for the VAE and OpenCLIP: the stored key a diffusers tensor comes from (empty:
// none), with the transform map_*_key applies to it (Squeeze: store as [C, C, 1, 1]; QkvPart:
// this is part `part` of the fused in_proj; Transpose: store transposed).
MappedKey vae_original_key(const std::string& diffusers_key, int64_t levels);
MappedKey open_clip_original_key(const std::string& diffusers_key);

// Keys real single files carry that no model binds (position ids, CLIP's logit scale).
bool is_known_extra_key(const std::string& key);

}  // namespace sdxl::io

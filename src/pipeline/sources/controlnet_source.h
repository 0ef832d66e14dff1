// ControlNets as people have them: a diffusers folder (config.json +
// diffusion_pytorch_model[.fp16].safetensors) or the same tensors in one .safetensors file (how SDXL
// ControlNets are shared on model sites), its architecture from `config_dir`/config.json, a
// config.json beside the file, or read from the tensors themselves.
#pragma once

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "io/controlnet_config.h"
#include "io/weight_set.h"
#include "models/unet/controlnet.h"
#include "ops.h"

namespace sdxl::pipeline {

// `unet`: the base model's UNet, whose head counts and added-time width a ControlNet without a
// config takes (ControlNets are made from their UNet: diffusers' from_unet copies them).
std::shared_ptr<const models::ControlNetModel> load_controlnet(const std::filesystem::path& model,
                                                               const std::filesystem::path& config_dir = {},
                                                               ops::Precision precision = ops::Precision::F32,
                                                               const io::UNetConfig* unet = nullptr);

// The memory a ControlNet's weights take once loaded in `precision` (from its files' headers).
double controlnet_weights_gib(const std::filesystem::path& model, ops::Precision precision);

// A diffusers ControlNetModel config for SDXL read from the tensors: channels, blocks, layers,
// transformer depth, text width and the conditioning embedding from their shapes. What the tensors
// do not show: head counts and the added-time width from `unet` where its levels have the same
// channels, else SDXL's (64-wide heads, 256); the channel order RGB.
nlohmann::json controlnet_config_from_tensors(const io::WeightSet& weights, const io::UNetConfig* unet = nullptr);

}  // namespace sdxl::pipeline

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

std::shared_ptr<const models::ControlNetModel> load_controlnet(const std::filesystem::path& model,
                                                               const std::filesystem::path& config_dir = {},
                                                               ops::Precision precision = ops::Precision::F32);

// A diffusers ControlNetModel config for SDXL read from the tensors: channels, blocks, layers,
// transformer depth, text width and the conditioning embedding from their shapes; SDXL's head size
// (64), added-time width (256) and RGB channel order, which the tensors do not show.
nlohmann::json controlnet_config_from_tensors(const io::WeightSet& weights);

}  // namespace sdxl::pipeline

// T2I-Adapters as people have them: a diffusers folder (config.json +
// diffusion_pytorch_model[.fp16].safetensors) or its tensors in one .safetensors file (how the
// AUTOMATIC1111 ControlNet extension's users keep them), the architecture from a config.json
// beside it or read from the tensors. And which kind of control model a file is.
#pragma once

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "io/t2i_adapter_config.h"
#include "io/weight_set.h"
#include "models/adapters/t2i_adapter.h"
#include "ops.h"

namespace sdxl::pipeline {

std::shared_ptr<const models::T2IAdapter> load_t2i_adapter(const std::filesystem::path& model,
                                                           ops::Precision precision = ops::Precision::F32);

// The memory its weights take once loaded in `precision`.
double t2i_adapter_weights_gib(const std::filesystem::path& model, ops::Precision precision);

// diffusers' T2IAdapter config read from the tensors (channels, res blocks, the unshuffle factor
// from conv_in's width for an RGB input).
nlohmann::json t2i_adapter_config_from_tensors(const io::WeightSet& weights);

// Whether a control model file or folder is a T2I-Adapter (else a ControlNet, whose loader names
// what is wrong): decided by its config's _class_name or its tensor names.
bool is_t2i_adapter(const std::filesystem::path& model);

}  // namespace sdxl::pipeline

// A model source whose VAE comes from elsewhere (`--vae`): a diffusers AutoencoderKL folder (its
// own config, so sdxl-vae-fp16-fix's force_upcast: false lets it run in bf16), or a single file
// (sdxl_vae.safetensors: the original LDM key layout, with or without `first_stage_model.`, or
// diffusers' names) that takes the model's own VAE config. Everything else is the model's.
#pragma once

#include <filesystem>
#include <memory>

#include "pipeline/sources/model_source.h"

namespace sdxl::pipeline {

// `base` itself when `vae` is empty; opened and checked now.
std::shared_ptr<const ModelSource> with_vae(std::shared_ptr<const ModelSource> base, const std::filesystem::path& vae);

}  // namespace sdxl::pipeline

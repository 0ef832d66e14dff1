// Loading model components from a model source: config, weights, binding, and the check
// that the weights hold exactly what the config implies.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "pipeline/sources/model_source.h"
#include "pipeline/sources/packed_layers.h"
#include "models/clip/clip_text_model.h"
#include "models/common/adaptable_layers.h"
#include "models/taesd/autoencoder_tiny.h"
#include "models/unet/unet.h"
#include "models/vae/autoencoder_kl.h"

namespace sdxl::pipeline {

// `precision`: the arithmetic of linears and convolutions (BF16: bf16 inputs and weights, f32
// accumulation). The VAE keeps F32 when its config says force_upcast, as diffusers does.
// `adaptable`: where the bound layers are recorded for later LoRA changes (emptied first).
// `cache`: the packed-weight cache the layers come from and go to (null or no folder: none).
models::ClipTextModel load_text_encoder(const ModelSource& source, const std::string& component,
                                        ops::Precision precision = ops::Precision::F32,
                                        models::AdaptableLayers* adaptable = nullptr,
                                        const PackedCacheSettings* cache = nullptr);
// The arithmetic the VAE runs in: F32 under its config's force_upcast, as diffusers does.
ops::Precision vae_precision(const io::VaeConfig& config, ops::Precision precision);
models::AutoencoderKL load_vae(const ModelSource& source, const std::string& component = "vae",
                               ops::Precision precision = ops::Precision::F32,
                               const PackedCacheSettings* cache = nullptr);
// A diffusers AutoencoderTiny folder (config.json and diffusion_pytorch_model[.fp16].safetensors),
// as madebyollin/taesdxl: refused with a clear message when it is something else.
models::AutoencoderTiny load_tiny_autoencoder(const std::filesystem::path& dir, ops::Precision precision = ops::Precision::F32);
// The weights of a diffusers component kept apart from a pipeline (ControlNet, T2I-Adapter): a
// folder's diffusion_pytorch_model[.fp16].safetensors, or one .safetensors file; throws naming
// what is wrong, under `stage` ("controlnet").
std::vector<std::filesystem::path> diffusers_weight_files(const std::filesystem::path& model, const char* stage);
// The memory a weight set takes once packed in `precision` (2 or 4 bytes a value), in GiB.
double packed_weights_gib(const io::WeightSet& weights, ops::Precision precision);

models::UNet2DConditionModel load_unet(const ModelSource& source, const std::string& component = "unet",
                                       ops::Precision precision = ops::Precision::F32,
                                       models::AdaptableLayers* adaptable = nullptr,
                                       const PackedCacheSettings* cache = nullptr);

}  // namespace sdxl::pipeline

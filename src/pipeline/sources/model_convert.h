// `sdxl convert`: a model set written in the other layout, optionally in another precision and
// with LoRAs merged in. Single file -> diffusers folder (model_index.json, each component's config
// and weights, the tokenizers and scheduler), and diffusers folder -> single file (the original
// Stability layout that sd_xl_base_1.0.safetensors uses, io/original_layout.h); and a torch
// checkpoint into safetensors as it is.
#pragma once

#include <filesystem>
#include <optional>

#include "core/dtype.h"
#include "pipeline/sources/model_source.h"

namespace sdxl::pipeline {

// `dtype`: every tensor converted to it; none: each keeps the dtype it is stored in.
// The output must not exist; it is written next to its final name and renamed, never half made.
void write_single_file(const ModelSource& source, const std::filesystem::path& out, std::optional<DType> dtype);
void write_diffusers_folder(const ModelSource& source, const std::filesystem::path& out, std::optional<DType> dtype);

// Any file of tensors (a torch .ckpt/.pt/.pth/.bin above all) as one .safetensors file, tensor
// for tensor: names (a state_dict/params_ema/params wrapper unwrapped), shapes and bits kept, and
// dtypes too unless `dtype` is given.
void write_tensor_file(const std::filesystem::path& in, const std::filesystem::path& out, std::optional<DType> dtype);

}  // namespace sdxl::pipeline

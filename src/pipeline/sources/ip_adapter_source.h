// IP-Adapter files as h94/IP-Adapter and model sites ship them (.safetensors with image_proj.* and
// ip_adapter.* tensors): the kind (plain or plus) and sizes read from the tensors, checked against
// the UNet they are to steer.
#pragma once

#include <filesystem>
#include <memory>

#include "io/model_configs.h"
#include "io/weight_set.h"
#include "models/adapters/ip_adapter.h"
#include "ops.h"

namespace sdxl::pipeline {

// diffusers' detection: image_proj.proj.weight -> plain (tokens = its rows / cross), else
// image_proj.latents -> plus (queries = its second axis, heads = to_q rows / 64, depth 4).
models::IpAdapterConfig ip_adapter_config_from_tensors(const io::WeightSet& weights);

// Throws naming what does not fit `unet` (an adapter for SD 1.5 says so).
std::shared_ptr<const models::IpAdapter> load_ip_adapter(const std::filesystem::path& file, const io::UNetConfig& unet,
                                                         ops::Precision precision = ops::Precision::F32);

double ip_adapter_weights_gib(const std::filesystem::path& file, ops::Precision precision);

}  // namespace sdxl::pipeline

// ESRGAN-family upscalers from their files: RRDBNet in BasicSR's key layout (Real-ESRGAN's
// releases, .pth {"params_ema": ...} or .safetensors) or the old ESRGAN layout (model.0,
// model.1.sub.N.RDBk.convj.0, ...; 4x-UltraSharp and its kin), the architecture read from the
// tensors' shapes as model loaders do (no config is shipped with these files).
#pragma once

#include <filesystem>
#include <memory>

#include "io/weight_set.h"
#include "models/upscalers/rrdbnet.h"
#include "ops.h"

namespace sdxl::pipeline {

// The architecture of an RRDBNet's tensors (BasicSR names); throws naming what is missing or
// which other architecture it looks like.
models::RrdbNetConfig rrdbnet_config_from_tensors(const io::WeightSet& weights);

// The file's tensors under BasicSR's names (an old-layout file renamed).
io::WeightSet open_upscaler_weights(const std::filesystem::path& file);

std::shared_ptr<const models::RrdbNet> load_upscaler(const std::filesystem::path& file,
                                                     ops::Precision precision = ops::Precision::F32);

}  // namespace sdxl::pipeline

// Loading model components from a pipeline folder: config, weights, binding, and the check
// that the weights hold exactly what the config implies.
#pragma once

#include <string>

#include "io/pipeline_folder.h"
#include "models/clip/clip_text_model.h"
#include "models/unet/unet.h"
#include "models/vae/autoencoder_kl.h"

namespace sdxl::pipeline {

models::ClipTextModel load_text_encoder(const io::PipelineFolder& folder, const std::string& component);
models::AutoencoderKL load_vae(const io::PipelineFolder& folder, const std::string& component = "vae");
models::UNet2DConditionModel load_unet(const io::PipelineFolder& folder, const std::string& component = "unet");

}  // namespace sdxl::pipeline

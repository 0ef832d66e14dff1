// Loading model components from a pipeline folder: config, weights, binding, and the check
// that the weights hold exactly what the config implies.
#pragma once

#include <string>

#include "io/pipeline_folder.h"
#include "models/clip/clip_text_model.h"

namespace sdxl::pipeline {

models::ClipTextModel load_text_encoder(const io::PipelineFolder& folder, const std::string& component);

}  // namespace sdxl::pipeline

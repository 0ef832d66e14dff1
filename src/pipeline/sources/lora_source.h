// A model source with LoRAs merged into the weights it hands out: the seam through which LoRA
// reaches the models. Each component's weights come with the LoRA set's patch for it, so the
// merge happens while the model binds them; a pipeline already loaded takes the same patches
// (ModelSource::patch) into the layers it has in memory (SdxlPipeline::use_source).
#pragma once

#include <memory>
#include <vector>

#include "lora/lora_set.h"
#include "pipeline/sources/model_source.h"

namespace sdxl::pipeline {

// The layers of `source`'s UNet and text encoders that a LoRA may adapt.
lora::ModelLayers adaptable_layers(const ModelSource& source);

// `base` with `loras` merged in (`base` itself when there are none); the files are read and
// matched now, so a bad LoRA is an error here, before any model is loaded.
std::shared_ptr<const ModelSource> with_loras(std::shared_ptr<const ModelSource> base,
                                              const std::vector<lora::LoraSpec>& loras);

}  // namespace sdxl::pipeline

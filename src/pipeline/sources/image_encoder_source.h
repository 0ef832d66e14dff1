// CLIP image encoders (IP-Adapters' image_encoder) as people have them: a transformers folder
// (config.json + model.safetensors, as h94/IP-Adapter's image_encoder folders), or one .safetensors
// file in transformers' names (vision_model.*, visual_projection.weight) or in open_clip's
// (visual.conv1, visual.transformer.resblocks.N..., visual.proj: ComfyUI's clip_vision_g/h files),
// the architecture from a config.json beside the file or read from its tensors.
#pragma once

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "io/weight_set.h"
#include "models/clip/clip_vision_model.h"
#include "ops.h"

namespace sdxl::pipeline {

std::shared_ptr<const models::ClipVisionModel> load_image_encoder(const std::filesystem::path& model,
                                                                  ops::Precision precision = ops::Precision::F32);

double image_encoder_weights_gib(const std::filesystem::path& model, ops::Precision precision);

// A CLIPVisionConfig read from the tensors (either naming): widths, layers, patch and image size,
// projection. Heads are not in the tensors: open_clip's ViT-L/14, ViT-H/14 and ViT-bigG/14 have 16,
// others width / 64.
nlohmann::json image_encoder_config_from_tensors(const io::WeightSet& weights);

}  // namespace sdxl::pipeline

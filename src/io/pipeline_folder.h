// A diffusers pipeline folder: model_index.json names the components; each component folder
// holds a config and (for models) safetensors weights, possibly as a variant (.fp16) and/or
// sharded with a *.safetensors.index.json.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/weight_set.h"

namespace sdxl::io {

struct ComponentEntry {
  std::string name;        // "unet", "text_encoder_2", ...
  std::string library;     // "diffusers" or "transformers"
  std::string class_name;  // "UNet2DConditionModel", "CLIPTokenizer", ...
};

struct PipelineIndex {
  std::string class_name;  // "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", ...
  std::vector<ComponentEntry> components;  // present ones (null entries dropped), in file order
  bool force_zeros_for_empty_prompt = true;
  bool requires_aesthetics_score = false;

  const ComponentEntry* find(const std::string& name) const;
};

PipelineIndex load_pipeline_index(const std::filesystem::path& model_index_json);

struct WeightFiles {
  std::vector<std::filesystem::path> files;
  std::filesystem::path shard_index;  // empty unless sharded
  std::string variant;                // "" or "fp16", ...
};

class PipelineFolder {
 public:
  // Reads model_index.json. `variant` ("fp16"): prefer *.fp16.safetensors; empty: the plain
  // weights, falling back to a variant when it is the only one present.
  static PipelineFolder open(const std::filesystem::path& dir, const std::string& variant = "");

  const std::filesystem::path& dir() const { return dir_; }
  const PipelineIndex& index() const { return index_; }
  bool has(const std::string& component) const { return index_.find(component) != nullptr; }
  std::filesystem::path component_dir(const std::string& component) const;  // throws if not in the index
  // config.json (scheduler: scheduler_config.json); throws naming the file when missing.
  std::filesystem::path config_path(const std::string& component) const;
  // The safetensors files of a model component, chosen by the variant rules.
  WeightFiles weight_files(const std::string& component) const;
  WeightSet open_weights(const std::string& component) const;

 private:
  std::filesystem::path dir_;
  std::string variant_;
  PipelineIndex index_;
};

}  // namespace sdxl::io

// Where a model set comes from: its components, their configs (read once, as JSON objects) and
// their weights (by the names the models ask for), and the tokenizer files. A diffusers folder
// (FolderSource) and a single-file checkpoint (single_file_source.h: configs built in or given,
// keys renamed from the original layout) implement it; decorators put another VAE
// (vae_source.h) or a LoRA set (lora_source.h) in front of one. Everything above io loads models
// from a ModelSource, never from a folder.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "io/pipeline_folder.h"

namespace sdxl::pipeline {

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  // The folder or file, for messages and the PNG's "Model" field.
  virtual const std::filesystem::path& location() const = 0;
  // model_index.json's facts: the components present, force_zeros_for_empty_prompt,
  // requires_aesthetics_score.
  virtual const io::PipelineIndex& index() const = 0;
  bool has(const std::string& component) const { return index().find(component) != nullptr; }
  bool is_refiner() const { return index().requires_aesthetics_score; }
  // A component's config.json as an object, and where it came from (for error messages).
  virtual const nlohmann::json& config(const std::string& component) const = 0;
  virtual std::string config_origin(const std::string& component) const = 0;
  // A model component's tensors, by the names its diffusers model uses.
  virtual io::WeightSet weights(const std::string& component) const = 0;
  // What weights(component) changes in its tensors as they are read (merged LoRAs); null: nothing.
  virtual std::shared_ptr<const io::TensorPatch> patch(const std::string&) const { return nullptr; }
  // A tokenizer component's folder (tokenizer_config.json; vocab.json and merges.txt too, unless
  // tokenizer_vocab_dir says where they are).
  virtual std::filesystem::path tokenizer_dir(const std::string& component) const = 0;
  virtual std::filesystem::path tokenizer_vocab_dir(const std::string&) const { return {}; }
};

// A diffusers pipeline folder (model_index.json and one folder per component).
class FolderSource final : public ModelSource {
 public:
  FolderSource(const std::filesystem::path& dir, const std::string& variant);
  const std::filesystem::path& location() const override { return folder_.dir(); }
  const io::PipelineIndex& index() const override { return folder_.index(); }
  const nlohmann::json& config(const std::string& component) const override;
  std::string config_origin(const std::string& component) const override;
  io::WeightSet weights(const std::string& component) const override { return folder_.open_weights(component); }
  std::filesystem::path tokenizer_dir(const std::string& component) const override {
    return folder_.component_dir(component);
  }
  const io::PipelineFolder& folder() const { return folder_; }

 private:
  io::PipelineFolder folder_;
  mutable std::mutex mutex_;
  mutable std::map<std::string, nlohmann::json> configs_;  // read on first use, once
};

// The model set at `path`: a diffusers folder, or a single .safetensors checkpoint whose
// architecture, tokenizers and scheduler come from `config_dir` (a diffusers folder). Pickled
// checkpoints are refused unread.
std::shared_ptr<const ModelSource> open_model_source(const std::filesystem::path& path, const std::string& variant = "",
                                                     const std::filesystem::path& config_dir = {});

}  // namespace sdxl::pipeline

// A single-file SDXL checkpoint (the original Stability / SGM layout: sd_xl_base_1.0.safetensors
// and the fine-tunes on model sites) as a ModelSource: each component's tensors renamed from the
// file's keys (io/original_layout.h); the architecture, tokenizers and scheduler from a diffusers
// folder of the same architecture (`--config DIR`, as diffusers' from_single_file(...,
// config=...)), or else SDXL 1.0's own (base or refiner, told by the keys) with sdxl's shipped
// CLIP vocabulary (pipeline/data_dir.h).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "io/original_layout.h"
#include "io/safetensors.h"
#include "pipeline/sources/model_source.h"

namespace sdxl::pipeline {

// One component's tensors of an original-layout file: those under `prefix`, renamed by `map`
// (io/original_layout.h). Tensors under the prefix that `map` does not know are an error whose
// message ends with `mismatch_hint`.
using OriginalKeyMap = std::function<std::vector<io::MappedKey>(const std::string&)>;
io::WeightSet original_layout_weights(const std::string& component, std::shared_ptr<io::SafetensorsFile> file,
                                      const std::string& prefix, const OriginalKeyMap& map, const std::string& mismatch_hint);

class SingleFileSource final : public ModelSource {
 public:
  SingleFileSource(const std::filesystem::path& file, const std::filesystem::path& config_dir);
  const std::filesystem::path& location() const override { return file_; }
  const io::PipelineIndex& index() const override { return configs_->index(); }
  const nlohmann::json& config(const std::string& component) const override { return configs_->config(component); }
  std::string config_origin(const std::string& component) const override { return configs_->config_origin(component); }
  io::WeightSet weights(const std::string& component) const override;
  std::filesystem::path tokenizer_dir(const std::string& component) const override {
    return configs_->tokenizer_dir(component);
  }
  std::filesystem::path tokenizer_vocab_dir(const std::string& component) const override;

 private:
  std::filesystem::path file_;
  std::shared_ptr<io::SafetensorsFile> st_;
  std::string wrapper_;  // "state_dict." when every key carries it, else empty
  std::unique_ptr<FolderSource> configs_;
  bool built_in_configs_ = false;
};

}  // namespace sdxl::pipeline

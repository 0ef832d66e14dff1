// The LoRAs of one generation, read and matched against a model: for each model component, the
// tensors they change and how. The model binds its weights through the patch of its component
// (io::TensorPatch), so the merge happens as each weight is loaded, in f32, before it is packed
// in the compute precision; nothing of the base checkpoint is changed or kept twice.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/weight_set.h"
#include "lora/lora_file.h"
#include "lora/lora_names.h"

namespace sdxl::lora {

struct LoraSpec {
  std::filesystem::path path;
  double weight = 1.0;  // the multiplier of the file's own scale (diffusers' lora_scale, A1111's <lora:name:w>)
  bool operator==(const LoraSpec& o) const { return path == o.path && weight == o.weight; }
  bool operator!=(const LoraSpec& o) const { return !(*this == o); }
};

class LoraSet {
 public:
  // Reads each file and matches every module to a layer of `layers`; throws Format listing the
  // modules that match nothing, or naming one whose shapes do not fit its layer.
  static std::shared_ptr<const LoraSet> load(const std::vector<LoraSpec>& specs, const ModelLayers& layers);

  // What the LoRAs do to `component`'s tensors; null when they leave it alone.
  std::shared_ptr<const io::TensorPatch> patch(const std::string& component) const;
  const std::vector<LoraSpec>& specs() const { return specs_; }
  size_t module_count() const { return modules_; }

 private:
  std::vector<LoraSpec> specs_;
  std::vector<LoraFile> files_;
  std::map<std::string, std::shared_ptr<const io::TensorPatch>> patches_;
  size_t modules_ = 0;
};

}  // namespace sdxl::lora

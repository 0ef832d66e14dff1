// A model component's tensors by name, across its files (shards, or part of a single-file
// checkpoint under other names), with a patch that changes tensors as they are read (a LoRA
// merged in): what a model binds its weights from, wherever they are stored.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/original_layout.h"
#include "io/safetensors.h"

namespace sdxl::io {

// A tensor of a renamed weight set (renamed_weight_set below): the name the model asks for, the
// stored one, and how the stored one becomes it.
struct RenamedTensor {
  std::string name, stored;
  KeyTransform transform = KeyTransform::Same;
  int part = 0;  // QkvPart
};

// Changes tensors as they are read, before a model binds them (LoRA merged into the weights it
// touches). `apply` gets the stored tensor and returns an owned f32 one.
class TensorPatch {
 public:
  virtual ~TensorPatch() = default;
  virtual bool touches(const std::string& name) const = 0;
  virtual Tensor apply(const std::string& name, const Tensor& stored) const = 0;
  // The same change made in place on an f32 tensor (`values` may be a view into a larger one):
  // what a swap in a loaded model uses, with no copy of the layer. By default through apply().
  virtual void apply_in_place(const std::string& name, Tensor& values) const;
  // Whether the change of `name` adds something that does not depend on the values (apply(W) =
  // W + apply(0)): then a loaded layer can take it without being unpacked.
  virtual bool additive(const std::string& name) const { return false; }
  virtual std::vector<std::string> names() const = 0;  // every tensor it touches
  // What the change is, for a packed-weight cache key (the files it comes from and their
  // weights); empty when it cannot say, and then what it changes is not cached.
  virtual std::string identity() const { return ""; }
};

// The tensors of one model component, across all its shard files, looked up by name.
class WeightSet {
 public:
  // The same tensors, those `patch` touches changed by it when read (get, get_transient).
  WeightSet patched(std::shared_ptr<const TensorPatch> patch) const;
  bool is_patched() const { return patch_ != nullptr; }
  const std::shared_ptr<const TensorPatch>& patch() const { return patch_; }
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
  bool has(const std::string& name) const { return index_.count(name) > 0; }
  Tensor get(const std::string& name) const;  // throws naming the component and tensor if absent
  // The same as a view that drops its file pages from memory once its last copy is gone
  // (SafetensorsFile::transient_tensor).
  Tensor get_transient(const std::string& name) const;
  const TensorRecord* record(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  size_t size() const { return index_.size(); }
  const std::string& component() const { return component_; }

 private:
  friend WeightSet open_weight_set(const std::string&, const std::vector<std::filesystem::path>&,
                                   const std::filesystem::path&);
  friend WeightSet renamed_weight_set(const std::string&, std::shared_ptr<SafetensorsFile>,
                                      const std::vector<RenamedTensor>&);
  Tensor transposed(const std::string& name) const;  // null when `name` is not stored transposed
  std::string component_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<size_t, const TensorRecord*>> index_;
  // Renamed sets: records made for slices and reshapes (stable addresses), and the stored records
  // of tensors kept transposed in the file.
  std::vector<std::shared_ptr<TensorRecord>> made_records_;
  std::map<std::string, const TensorRecord*> stored_transposed_;
  std::shared_ptr<const TensorPatch> patch_;
};

// Tensors handed out by every WeightSet so far (get, get_transient): how the tests see that a
// LoRA swap reads nothing of the checkpoint.
uint64_t tensors_read();

// A weight set over part of an open file, its tensors under other names: what a single-file
// checkpoint gives each component (its "model.diffusion_model.x" stored as the UNet's "x").
WeightSet renamed_weight_set(const std::string& component, std::shared_ptr<SafetensorsFile> file,
                             const std::vector<RenamedTensor>& renamed);

// Opens `files`; when `shard_index` is not empty, also checks its weight_map against them.
WeightSet open_weight_set(const std::string& component, const std::vector<std::filesystem::path>& files,
                          const std::filesystem::path& shard_index = {});

}  // namespace sdxl::io

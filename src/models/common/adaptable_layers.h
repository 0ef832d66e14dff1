// The packed layers of a loaded model that a LoRA may change later, by the tensors they were
// made of. A long-lived engine changes its LoRA set by packing again only the layers the old or
// the new set touches: each from its original weights, unpacked from the original packed layer,
// which is kept aside the first time the layer changes and put back, bit for bit, when no LoRA
// touches it any more. The checkpoint is never read again. A changed linear layer's memory is
// kept when the layer goes back to its original, and written again by the next LoRA that changes
// it (as a LoRA's layers are by the LoRA that replaces it): after the first, a swap writes into
// memory it already has instead of faulting in gigabytes of fresh pages.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/weight_set.h"
#include "ops.h"

namespace sdxl::models {

class AdaptableLayers {
 public:
  // One tensor pair of a layer: rows [offset, offset + rows) of its weight (fused q/k/v layers
  // have three parts); `bias` empty when the part has none.
  struct Part {
    std::string weight, bias;
    int64_t rows = 0;
  };
  // `merged_at_load`: the layer was packed with a patch already applied (its original is unknown).
  void add_linear(std::vector<Part> parts, const std::shared_ptr<ops::LinearWeights>& slot, ops::Precision precision,
                  bool merged_at_load);
  void add_conv2d(Part part, const std::shared_ptr<ops::Conv2dWeights>& slot, ops::Precision precision, bool merged_at_load);

  // Whether adapt(patch) can work here: every tensor `patch` touches belongs to a layer here, and
  // no layer was merged at load (its plain weights would have to be read again).
  bool can_adapt(const io::TensorPatch* patch) const;
  // Packs every layer `patch` touches from its original plus the patch, and restores the original
  // of every layer it no longer touches. `patch` may be null (no LoRA).
  void adapt(const io::TensorPatch* patch);
  // Layers whose original is kept aside (changed by the current patch).
  size_t changed() const;
  // Layers holding a spare changed layer's memory (a LoRA taken off, kept for the next one).
  size_t spares() const;
  void clear();

 private:
  struct Entry {
    std::vector<Part> parts;
    ops::Precision precision = ops::Precision::F32;
    bool merged_at_load = false;
    std::weak_ptr<ops::LinearWeights> linear;  // one of the two
    std::weak_ptr<ops::Conv2dWeights> conv;
    std::optional<ops::LinearWeights> original_linear;
    std::optional<ops::LinearWeights> spare_linear;  // a changed layer's memory, for the next change
    std::optional<ops::Conv2dWeights> original_conv;
    bool has_original() const { return original_linear.has_value() || original_conv.has_value(); }
  };
  void add(Entry entry);
  static bool touched(const Entry& e, const io::TensorPatch* patch);
  // Whether every tensor of `e` that `patch` changes takes an additive change (no unpacking needed).
  static bool additive(const Entry& e, const io::TensorPatch& patch);
  static bool has_bias(const Entry& e);
  static void repack(Entry& e, const io::TensorPatch& patch, Arena& scratch);
  static void restore(Entry& e);
  std::vector<Entry> entries_;
  std::map<std::string, size_t> by_tensor_;
};

}  // namespace sdxl::models

#include "models/common/adaptable_layers.h"

#include <algorithm>

#include "core/error.h"
#include "models/common/layers.h"

namespace sdxl::models {

void AdaptableLayers::add(Entry entry) {
  for (const Part& p : entry.parts) {
    by_tensor_[p.weight] = entries_.size();
    if (!p.bias.empty()) by_tensor_[p.bias] = entries_.size();
  }
  entries_.push_back(std::move(entry));
}

void AdaptableLayers::add_linear(std::vector<Part> parts, const std::shared_ptr<ops::LinearWeights>& slot,
                                 ops::Precision precision, bool merged_at_load) {
  Entry e;
  e.parts = std::move(parts);
  e.precision = precision;
  e.merged_at_load = merged_at_load;
  e.linear = slot;
  add(std::move(e));
}

void AdaptableLayers::add_conv2d(Part part, const std::shared_ptr<ops::Conv2dWeights>& slot, ops::Precision precision,
                                 bool merged_at_load) {
  Entry e;
  e.parts = {std::move(part)};
  e.precision = precision;
  e.merged_at_load = merged_at_load;
  e.conv = slot;
  add(std::move(e));
}

bool AdaptableLayers::can_adapt(const io::TensorPatch* patch) const {
  for (const Entry& e : entries_)
    if (e.merged_at_load) return false;
  if (patch)
    for (const std::string& name : patch->names())
      if (!by_tensor_.count(name)) return false;
  return true;
}

bool AdaptableLayers::touched(const Entry& e, const io::TensorPatch* patch) {
  if (!patch) return false;
  for (const Part& p : e.parts)
    if (patch->touches(p.weight) || (!p.bias.empty() && patch->touches(p.bias))) return true;
  return false;
}

namespace {

// `rows` rows of `whole` starting at row `first`, as a tensor of `shape` (a view).
Tensor rows_of(const Tensor& whole, int64_t first, const Shape& shape) {
  const int64_t per_row = whole.numel() / whole.dim(0);
  return Tensor::view(whole.data<float>() + first * per_row, shape, DType::F32, nullptr);
}

// `unpacked` with `patch` applied in place to the tensors of `parts` (rows of it, in order).
void apply_to_rows(ops::UnpackedWeights& unpacked, const std::vector<AdaptableLayers::Part>& parts,
                   const io::TensorPatch& patch) {
  int64_t first = 0;
  for (const AdaptableLayers::Part& p : parts) {
    Shape shape = unpacked.weight.shape();
    shape[0] = p.rows;
    if (patch.touches(p.weight)) {
      Tensor rows = rows_of(unpacked.weight, first, shape);
      patch.apply_in_place(p.weight, rows);
    }
    if (!p.bias.empty() && patch.touches(p.bias)) {
      Tensor rows = rows_of(unpacked.bias, first, Shape{p.rows});
      patch.apply_in_place(p.bias, rows);
    }
    first += p.rows;
  }
}

}  // namespace

bool AdaptableLayers::additive(const Entry& e, const io::TensorPatch& patch) {
  for (const Part& p : e.parts) {
    if (patch.touches(p.weight) && !patch.additive(p.weight)) return false;
    if (!p.bias.empty() && patch.touches(p.bias) && !patch.additive(p.bias)) return false;
  }
  return true;
}

bool AdaptableLayers::has_bias(const Entry& e) {
  for (const Part& p : e.parts)
    if (!p.bias.empty()) return true;
  return false;
}

void AdaptableLayers::repack(Entry& e, const io::TensorPatch& patch, Arena& scratch) {
  if (auto slot = e.linear.lock()) {
    const ops::LinearWeights& original = e.original_linear ? *e.original_linear : *slot;
    ArenaScope layer(scratch);
    ops::LinearWeights merged;
    if (additive(e, patch)) {
      // The change alone, from zeros, added to the packed values: nothing is unpacked.
      ops::UnpackedWeights delta{ops::full(scratch, Shape{original.out_features(), original.in_features()}, 0.0f),
                                 has_bias(e) ? ops::full(scratch, Shape{original.out_features()}, 0.0f) : Tensor()};
      apply_to_rows(delta, e.parts, patch);
      // Into memory this layer already has: the previous LoRA's layer, or a spare one.
      if (e.original_linear && ops::assign_linear_plus(*slot, original, delta.weight, delta.bias)) return;
      if (!e.original_linear && e.spare_linear &&
          ops::assign_linear_plus(*e.spare_linear, original, delta.weight, delta.bias)) {
        e.original_linear = std::move(*slot);
        *slot = std::move(*e.spare_linear);
        e.spare_linear.reset();
        return;
      }
      e.spare_linear.reset();  // it cannot hold this change: freed before a new layer is made
      merged = ops::linear_plus(original, delta.weight, delta.bias);
    } else {
      e.spare_linear.reset();
      ops::UnpackedWeights w = ops::unpack_linear(scratch, original);
      apply_to_rows(w, e.parts, patch);
      merged = ops::repack_linear(original, w.weight, w.bias);
    }
    if (!e.original_linear) e.original_linear = std::move(*slot);
    *slot = std::move(merged);
  } else if (auto conv = e.conv.lock()) {
    ops::UnpackedWeights w = ops::unpack_conv2d(e.original_conv ? *e.original_conv : *conv);
    apply_to_rows(w, e.parts, patch);
    ops::Conv2dWeights merged = ops::pack_conv2d(w.weight, w.bias, conv->geometry(), e.precision);
    if (!e.original_conv) e.original_conv = std::move(*conv);
    *conv = std::move(merged);
  }
}

void AdaptableLayers::restore(Entry& e) {
  if (auto slot = e.linear.lock(); slot && e.original_linear) {
    e.spare_linear = std::move(*slot);
    *slot = std::move(*e.original_linear);
  }
  if (auto slot = e.conv.lock(); slot && e.original_conv) *slot = std::move(*e.original_conv);
  e.original_linear.reset();
  e.original_conv.reset();
}

void AdaptableLayers::adapt(const io::TensorPatch* patch) {
  SDXL_CHECK(can_adapt(patch), Internal, "[lora] these layers cannot take this LoRA set in place");
  // Each changed layer's values in turn, in one block reserved for the largest (fresh pages
  // for every layer cost more than the arithmetic).
  size_t largest = 0;
  for (const Entry& e : entries_) {
    if (!touched(e, patch)) continue;
    if (auto slot = e.linear.lock())
      largest = std::max(largest, static_cast<size_t>((slot->in_features() + 1) * slot->out_features()));
    else if (auto conv = e.conv.lock()) {
      const Conv2dGeometry& g = conv->geometry();
      largest = std::max(largest, static_cast<size_t>((g.in_channels * g.kernel * g.kernel + 1) * g.out_channels));
    }
  }
  Arena scratch(largest * sizeof(float) + 4 * Arena::kAlignment);
  for (Entry& e : entries_) {
    if (e.linear.expired() && e.conv.expired()) {  // its model is gone
      e.spare_linear.reset();
      continue;
    }
    if (touched(e, patch)) repack(e, *patch, scratch);
    else if (e.has_original()) restore(e);
  }
}

size_t AdaptableLayers::changed() const {
  size_t n = 0;
  for (const Entry& e : entries_) n += e.has_original() ? 1 : 0;
  return n;
}

size_t AdaptableLayers::spares() const {
  size_t n = 0;
  for (const Entry& e : entries_) n += e.spare_linear.has_value() ? 1 : 0;
  return n;
}

void AdaptableLayers::clear() {
  entries_.clear();
  by_tensor_.clear();
}

}  // namespace sdxl::models

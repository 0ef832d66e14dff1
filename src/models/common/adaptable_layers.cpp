#include "models/common/adaptable_layers.h"

#include <cstring>

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

// Replaces rows of `whole` with `part` (the patched tensor, f32).
void write_rows(Tensor& whole, int64_t first, const Tensor& part) {
  const int64_t per_row = whole.numel() / whole.dim(0);
  const Tensor f32 = to_f32(part);
  std::memcpy(whole.data<float>() + first * per_row, f32.raw(), f32.nbytes());
}

}  // namespace

namespace {

// `unpacked` with `patch` applied to the tensors of `parts` (rows of it, in order).
void apply_to_rows(ops::UnpackedWeights& unpacked, const std::vector<AdaptableLayers::Part>& parts,
                   const io::TensorPatch& patch) {
  int64_t first = 0;
  for (const AdaptableLayers::Part& p : parts) {
    Shape shape = unpacked.weight.shape();
    shape[0] = p.rows;
    if (patch.touches(p.weight)) write_rows(unpacked.weight, first, patch.apply(p.weight, rows_of(unpacked.weight, first, shape)));
    if (!p.bias.empty() && patch.touches(p.bias))
      write_rows(unpacked.bias, first, patch.apply(p.bias, rows_of(unpacked.bias, first, Shape{p.rows})));
    first += p.rows;
  }
}

}  // namespace

void AdaptableLayers::repack(Entry& e, const io::TensorPatch& patch) {
  if (auto slot = e.linear.lock()) {
    const ops::LinearWeights& original = e.original_linear ? *e.original_linear : *slot;
    ops::UnpackedWeights w = ops::unpack_linear(original);
    apply_to_rows(w, e.parts, patch);
    ops::LinearWeights merged = ops::repack_linear(original, w.weight, w.bias);
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
  if (auto slot = e.linear.lock(); slot && e.original_linear) *slot = std::move(*e.original_linear);
  if (auto slot = e.conv.lock(); slot && e.original_conv) *slot = std::move(*e.original_conv);
  e.original_linear.reset();
  e.original_conv.reset();
}

void AdaptableLayers::adapt(const io::TensorPatch* patch) {
  SDXL_CHECK(can_adapt(patch), Internal, "[lora] these layers cannot take this LoRA set in place");
  for (Entry& e : entries_) {
    if (e.linear.expired() && e.conv.expired()) continue;  // its model is gone
    if (touched(e, patch)) repack(e, *patch);
    else if (e.has_original()) restore(e);
  }
}

size_t AdaptableLayers::changed() const {
  size_t n = 0;
  for (const Entry& e : entries_) n += e.has_original() ? 1 : 0;
  return n;
}

void AdaptableLayers::clear() {
  entries_.clear();
  by_tensor_.clear();
}

}  // namespace sdxl::models

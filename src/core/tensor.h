// Tensor: a dtype, a shape and contiguous row-major storage that is owned (heap), borrowed from
// an Arena, or a view into memory someone else keeps alive (an mmapped weights file).
#pragma once

#include <cstddef>
#include <memory>

#include "core/arena.h"
#include "core/dtype.h"
#include "core/shape.h"

namespace sdxl {

enum class Storage : uint8_t { None, Owned, Arena, View };

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype);   // owned, 64-byte aligned
  static Tensor zeros(const Shape& shape, DType dtype);   // owned
  static Tensor in_arena(Arena& arena, const Shape& shape, DType dtype);
  // A view of data kept alive by `keep_alive` (for example the mapped file).
  static Tensor view(const void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> keep_alive);

  bool defined() const { return storage_ != Storage::None; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t dim(int axis) const { return shape_[axis]; }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  Storage storage() const { return storage_; }

  void* raw() { return data_; }
  const void* raw() const { return data_; }
  template <typename T>
  T* data() { return static_cast<T*>(data_); }
  template <typename T>
  const T* data() const { return static_cast<const T*>(data_); }

  // Same storage, another shape with the same number of elements.
  Tensor reshape(const Shape& shape) const;
  // Rows [first, first + count) of the first axis: a view of the same storage (no copy).
  Tensor slice_rows(int64_t first, int64_t count) const;
  // An owned copy converted to `dtype` (float <-> float conversions only).
  Tensor to(DType dtype) const;
  Tensor clone() const { return to(dtype_); }

 private:
  void* data_ = nullptr;
  Shape shape_;
  DType dtype_ = DType::F32;
  Storage storage_ = Storage::None;
  std::shared_ptr<const void> keep_alive_;  // null for arena storage: the arena owns it
};

// A matrix [R, C] as an owned [C, R] of the same dtype.
Tensor transposed(const Tensor& matrix);

}  // namespace sdxl

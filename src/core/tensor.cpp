#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

#include "core/convert.h"
#include "core/error.h"

namespace sdxl {
namespace {

void check_size(const Shape& shape, DType dtype) {
  // Every dimension was checked non-negative; guard the byte count against overflow.
  long double bytes = static_cast<long double>(dtype_size(dtype));
  for (int64_t d : shape) bytes *= static_cast<long double>(d);
  SDXL_CHECK(bytes < static_cast<long double>(1ull << 46), InvalidArgument, "[tensor] shape ",
             shape.to_string(), " is too large");
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  check_size(shape, dtype);
  Tensor t;
  size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  size_t rounded = (bytes + Arena::kAlignment - 1) / Arena::kAlignment * Arena::kAlignment;
  void* p = std::aligned_alloc(Arena::kAlignment, rounded == 0 ? Arena::kAlignment : rounded);
  if (!p) fail(ErrorCode::OutOfMemory, "[tensor] cannot allocate ", bytes, " bytes for ", shape.to_string());
  t.data_ = p;
  t.keep_alive_ = std::shared_ptr<const void>(p, [](const void* q) { std::free(const_cast<void*>(q)); });
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = Storage::Owned;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.data_, 0, t.nbytes());
  return t;
}

Tensor Tensor::in_arena(Arena& arena, const Shape& shape, DType dtype) {
  check_size(shape, dtype);
  Tensor t;
  t.data_ = arena.allocate(static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = Storage::Arena;
  return t;
}

Tensor Tensor::view(const void* data, const Shape& shape, DType dtype, std::shared_ptr<const void> keep_alive) {
  Tensor t;
  t.data_ = const_cast<void*>(data);
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.storage_ = Storage::View;
  t.keep_alive_ = std::move(keep_alive);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  SDXL_CHECK(shape.numel() == numel(), InvalidArgument, "[tensor] cannot reshape ", shape_.to_string(), " to ",
             shape.to_string());
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice_rows(int64_t first, int64_t count) const {
  SDXL_CHECK(rank() >= 1 && first >= 0 && count >= 0 && first + count <= shape_[0], InvalidArgument, "[tensor] rows ", first,
             "..", first + count, " of ", shape_.to_string());
  Tensor t = *this;
  t.shape_[0] = count;
  const size_t row_bytes = shape_[0] > 0 ? nbytes() / static_cast<size_t>(shape_[0]) : 0;
  t.data_ = static_cast<uint8_t*>(data_) + static_cast<size_t>(first) * row_bytes;
  return t;
}

Tensor Tensor::to(DType dtype) const {
  SDXL_CHECK(defined(), InvalidArgument, "[tensor] conversion of an undefined tensor");
  Tensor out = empty(shape_, dtype);
  size_t n = static_cast<size_t>(numel());
  if (dtype == dtype_) {
    std::memcpy(out.data_, data_, nbytes());
    return out;
  }
  SDXL_CHECK(dtype_is_float(dtype) && dtype_is_float(dtype_), Unsupported, "[tensor] conversion ",
             dtype_name(dtype_), " -> ", dtype_name(dtype), " is not supported");
  if (dtype == DType::F32) {
    convert_to_f32(data_, dtype_, out.data<float>(), n);
  } else if (dtype_ == DType::F32) {
    convert_from_f32(data<float>(), out.data_, dtype, n);
  } else {
    Tensor tmp = to(DType::F32);
    convert_from_f32(tmp.data<float>(), out.data_, dtype, n);
  }
  return out;
}

Tensor transposed(const Tensor& matrix) {
  SDXL_CHECK(matrix.rank() == 2, InvalidArgument, "[tensor] transposing ", matrix.shape().to_string(), ", not a matrix");
  const int64_t rows = matrix.dim(0), cols = matrix.dim(1);
  const size_t element = dtype_size(matrix.dtype());
  Tensor out = Tensor::empty(Shape{cols, rows}, matrix.dtype());
  const auto* src = static_cast<const uint8_t*>(matrix.raw());
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(dst + static_cast<size_t>(c * rows + r) * element, src + static_cast<size_t>(r * cols + c) * element, element);
  return out;
}

}  // namespace sdxl

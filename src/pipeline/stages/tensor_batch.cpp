#include "pipeline/stages/tensor_batch.h"

#include <cstring>

#include "core/error.h"
#include "ops.h"

namespace sdxl::pipeline {

Tensor concat_last(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  Arena arena;
  return ops::concat_channels(arena, a, b).clone();
}

Tensor concat_tokens(const std::vector<Tensor>& parts) {
  SDXL_CHECK(!parts.empty(), Internal, "[prompt] nothing to concatenate");
  if (parts.size() == 1) return parts[0];
  const int64_t batch = parts[0].dim(0), width = parts[0].dim(2);
  int64_t tokens = 0;
  for (const auto& p : parts) {
    SDXL_CHECK(p.rank() == 3 && p.dim(0) == batch && p.dim(2) == width && p.dtype() == DType::F32, Internal,
               "[prompt] cannot concatenate ", p.shape().to_string(), " to ", parts[0].shape().to_string());
    tokens += p.dim(1);
  }
  Tensor out = Tensor::empty(Shape{batch, tokens, width}, DType::F32);
  for (int64_t b = 0; b < batch; ++b) {
    float* dst = out.data<float>() + b * tokens * width;
    for (const auto& p : parts) {
      const size_t count = static_cast<size_t>(p.dim(1) * width);
      std::memcpy(dst, p.data<float>() + b * p.dim(1) * width, count * sizeof(float));
      dst += count;
    }
  }
  return out;
}

Tensor repeat_each(const Tensor& t, int64_t n) {
  if (n == 1) return t;
  Shape shape = t.shape();
  shape[0] = t.dim(0) * n;
  Tensor out = Tensor::empty(shape, t.dtype());
  const size_t row = t.nbytes() / static_cast<size_t>(t.dim(0));
  for (int64_t b = 0; b < t.dim(0); ++b)
    for (int64_t k = 0; k < n; ++k)
      std::memcpy(static_cast<uint8_t*>(out.raw()) + static_cast<size_t>(b * n + k) * row,
                  static_cast<const uint8_t*>(t.raw()) + static_cast<size_t>(b) * row, row);
  return out;
}

Tensor tile_batch(const Tensor& t, int64_t batch) {
  if (t.dim(0) == batch) return t;
  SDXL_CHECK(batch % t.dim(0) == 0, InvalidArgument, "[pipeline] ", t.dim(0), " init images do not divide a batch of ",
             batch);
  Shape shape = t.shape();
  shape[0] = batch;
  Tensor out = Tensor::empty(shape, t.dtype());
  for (int64_t b = 0; b < batch / t.dim(0); ++b)
    std::memcpy(static_cast<uint8_t*>(out.raw()) + static_cast<size_t>(b) * t.nbytes(), t.raw(), t.nbytes());
  return out;
}

}  // namespace sdxl::pipeline

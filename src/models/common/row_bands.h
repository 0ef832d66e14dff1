// Running a layer on one image a band of rows at a time (the VAE's tiled decode). Channels-last
// images [1, H, W, C] keep each row contiguous, so a band is a view and needs no copy.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/arena.h"
#include "core/tensor.h"

namespace sdxl::models {

// Rows [first, last) of an image.
struct RowRange {
  int64_t first = 0, last = 0;
  int64_t size() const { return last - first; }
  // Widened by `halo` rows each side, within [0, height).
  RowRange grown(int64_t halo, int64_t height) const {
    return {std::max<int64_t>(0, first - halo), std::min(height, last + halo)};
  }
  bool contains(const RowRange& r) const { return first <= r.first && r.last <= last; }
};

// [0, height) cut into bands of `band_rows` (the last one may be shorter).
std::vector<RowRange> split_rows(int64_t height, int64_t band_rows);

// A view of rows `range` of `image` [1, H, W, C].
Tensor rows_of(const Tensor& image, RowRange range);

// `rows` of the image `band` holds rows `band_range` of: a view of them.
Tensor rows_within(const Tensor& band, RowRange band_range, RowRange rows);

// An image [1, H, W, C] read a band of rows at a time: held whole, or computed on request (so
// never whole, at the cost of computing it again for every reading).
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual Shape shape() const = 0;  // [1, H, W, C]
  // Rows `range`, in `arena` (or a view): alive until the arena is rewound past this call.
  virtual Tensor rows(Arena& arena, RowRange range) const = 0;
  // The image when it is held whole, else null.
  virtual const Tensor* whole() const { return nullptr; }
  int64_t height() const { return shape()[1]; }
};

class WholeImage final : public RowSource {
 public:
  explicit WholeImage(const Tensor& image) : image_(image) {}
  Shape shape() const override { return image_.shape(); }
  Tensor rows(Arena&, RowRange range) const override { return rows_of(image_, range); }
  const Tensor* whole() const override { return &image_; }

 private:
  const Tensor& image_;
};

// How many rows make a band of about `bytes` for an image row of `row_bytes` (at least `minimum`).
int64_t band_rows_for(int64_t bytes, int64_t row_bytes, int64_t minimum = 8);

}  // namespace sdxl::models

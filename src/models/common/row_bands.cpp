#include "models/common/row_bands.h"

#include "core/error.h"

namespace sdxl::models {

std::vector<RowRange> split_rows(int64_t height, int64_t band_rows) {
  SDXL_CHECK(band_rows > 0, InvalidArgument, "[row bands] band height must be positive, got ", band_rows);
  std::vector<RowRange> bands;
  for (int64_t first = 0; first < height; first += band_rows)
    bands.push_back({first, std::min(height, first + band_rows)});
  return bands;
}

Tensor rows_of(const Tensor& image, RowRange range) {
  SDXL_CHECK(image.rank() == 4 && image.dim(0) == 1, InvalidArgument,
             "[row bands] expected one image [1, H, W, C], got ", image.shape().to_string());
  SDXL_CHECK(range.first >= 0 && range.first < range.last && range.last <= image.dim(1), InvalidArgument,
             "[row bands] rows [", range.first, ", ", range.last, ") outside an image of ", image.dim(1), " rows");
  return image.reshape(Shape{image.dim(1), image.dim(2) * image.dim(3)})
      .slice_rows(range.first, range.size())
      .reshape(Shape{1, range.size(), image.dim(2), image.dim(3)});
}

Tensor rows_within(const Tensor& band, RowRange band_range, RowRange rows) {
  SDXL_CHECK(band_range.contains(rows) && band.dim(1) == band_range.size(), InvalidArgument, "[row bands] rows [",
             rows.first, ", ", rows.last, ") are not in the band [", band_range.first, ", ", band_range.last, ")");
  return rows_of(band, {rows.first - band_range.first, rows.last - band_range.first});
}

int64_t band_rows_for(int64_t bytes, int64_t row_bytes, int64_t minimum) {
  return std::max(minimum, bytes / std::max<int64_t>(1, row_bytes));
}

}  // namespace sdxl::models

#include "backends/cpu/resample.h"

#include <algorithm>
#include <cstring>

namespace sdxl::cpu {

void upsample_nearest2x_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width,
                             int64_t channels) {
  const size_t pixel_bytes = static_cast<size_t>(channels) * sizeof(float);
  const int64_t out_w = 2 * width;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t y = 0; y < height; ++y) {
      const float* src_row = in + (n * height + y) * width * channels;
      float* dst_row = out + (n * 2 * height + 2 * y) * out_w * channels;
      for (int64_t x = 0; x < width; ++x) {
        const float* px = src_row + x * channels;
        std::memcpy(dst_row + (2 * x) * channels, px, pixel_bytes);
        std::memcpy(dst_row + (2 * x + 1) * channels, px, pixel_bytes);
      }
      // the odd output row repeats the even one
      std::memcpy(dst_row + out_w * channels, dst_row, static_cast<size_t>(out_w) * pixel_bytes);
    }
}

void resize_nearest_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width, int64_t channels,
                         int64_t out_height, int64_t out_width) {
  const float scale_y = static_cast<float>(height) / static_cast<float>(out_height);
  const float scale_x = static_cast<float>(width) / static_cast<float>(out_width);
  const size_t pixel_bytes = static_cast<size_t>(channels) * sizeof(float);
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t y = 0; y < out_height; ++y) {
      const int64_t sy = std::min(static_cast<int64_t>(static_cast<float>(y) * scale_y), height - 1);
      for (int64_t x = 0; x < out_width; ++x) {
        const int64_t sx = std::min(static_cast<int64_t>(static_cast<float>(x) * scale_x), width - 1);
        std::memcpy(out + ((n * out_height + y) * out_width + x) * channels, in + ((n * height + sy) * width + sx) * channels,
                    pixel_bytes);
      }
    }
}

}  // namespace sdxl::cpu

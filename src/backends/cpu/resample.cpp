#include "backends/cpu/resample.h"

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

}  // namespace sdxl::cpu

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

void pixel_unshuffle_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width, int64_t channels,
                          int64_t factor) {
  const int64_t oh = height / factor, ow = width / factor, oc = channels * factor * factor;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        float* o = out + ((n * oh + y) * ow + x) * oc;
        for (int64_t dy = 0; dy < factor; ++dy)
          for (int64_t dx = 0; dx < factor; ++dx) {
            const float* i = in + ((n * height + y * factor + dy) * width + x * factor + dx) * channels;
            for (int64_t c = 0; c < channels; ++c) o[(c * factor + dy) * factor + dx] = i[c];
          }
      }
}

void avg_pool2x2_ceil_nhwc(const float* in, float* out, int64_t batch, int64_t height, int64_t width,
                           int64_t channels) {
  const int64_t oh = (height + 1) / 2, ow = (width + 1) / 2;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        const int64_t y1 = std::min(2 * y + 2, height), x1 = std::min(2 * x + 2, width);
        float* o = out + ((n * oh + y) * ow + x) * channels;
        for (int64_t c = 0; c < channels; ++c) o[c] = 0.0f;
        for (int64_t sy = 2 * y; sy < y1; ++sy)
          for (int64_t sx = 2 * x; sx < x1; ++sx) {
            const float* i = in + ((n * height + sy) * width + sx) * channels;
            for (int64_t c = 0; c < channels; ++c) o[c] += i[c];
          }
        const float count = static_cast<float>((y1 - 2 * y) * (x1 - 2 * x));
        for (int64_t c = 0; c < channels; ++c) o[c] /= count;
      }
}

}  // namespace sdxl::cpu

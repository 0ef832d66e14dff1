#include "pipeline/stages/variation_noise.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace sdxl::pipeline {

void blend_variation(Tensor& noise, const Tensor& subnoise, double strength) {
  SDXL_CHECK(noise.shape() == subnoise.shape() && noise.shape().rank() == 4, InvalidArgument,
             "[variation] noise shapes ", noise.shape().to_string(), " and ", subnoise.shape().to_string());
  const int64_t n = noise.dim(0), c = noise.dim(1), h = noise.dim(2), w = noise.dim(3);
  const float val = static_cast<float>(strength);
  for (int64_t image = 0; image < n; ++image) {
    float* low = noise.data<float>() + image * c * h * w;
    const float* high = subnoise.data<float>() + image * c * h * w;
    // dot[ch, x] of the unit columns; its mean decides the branch, over the whole image.
    std::vector<float> dot(static_cast<size_t>(c * w));
    double mean = 0;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t x = 0; x < w; ++x) {
        float ll = 0, hh = 0;
        for (int64_t y = 0; y < h; ++y) {
          const int64_t i = (ch * h + y) * w + x;
          ll += low[i] * low[i];
          hh += high[i] * high[i];
        }
        const float ln = std::sqrt(ll), hn = std::sqrt(hh);
        float d = 0;
        for (int64_t y = 0; y < h; ++y) {
          const int64_t i = (ch * h + y) * w + x;
          d += (low[i] / ln) * (high[i] / hn);
        }
        dot[static_cast<size_t>(ch * w + x)] = d;
        mean += d;
      }
    mean /= static_cast<double>(c * w);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t x = 0; x < w; ++x) {
        const float omega = std::acos(dot[static_cast<size_t>(ch * w + x)]), so = std::sin(omega);
        const float a = std::sin((1.0f - val) * omega) / so, b = std::sin(val * omega) / so;
        for (int64_t y = 0; y < h; ++y) {
          const int64_t i = (ch * h + y) * w + x;
          low[i] = mean > 0.9995 ? low[i] * val + high[i] * (1.0f - val) : a * low[i] + b * high[i];
        }
      }
  }
}

namespace {

int64_t floor_half(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

void place_centered(Tensor& noise, const Tensor& from) {
  SDXL_CHECK(noise.shape().rank() == 4 && from.shape().rank() == 4 && noise.dim(0) == from.dim(0) && noise.dim(1) == from.dim(1),
             InvalidArgument, "[variation] noise shapes ", noise.shape().to_string(), " and ", from.shape().to_string());
  const int64_t n = noise.dim(0), c = noise.dim(1), H = noise.dim(2), W = noise.dim(3), h = from.dim(2), w = from.dim(3);
  const int64_t dx = floor_half(W - w), dy = floor_half(H - h);
  const int64_t width = dx >= 0 ? w : w + 2 * dx, height = dy >= 0 ? h : h + 2 * dy;
  const int64_t tx = std::max<int64_t>(dx, 0), ty = std::max<int64_t>(dy, 0), sx = std::max<int64_t>(-dx, 0),
                sy = std::max<int64_t>(-dy, 0);
  for (int64_t i = 0; i < n * c; ++i)
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < width; ++x)
        noise.data<float>()[(i * H + ty + y) * W + tx + x] = from.data<float>()[(i * h + sy + y) * w + sx + x];
}

}  // namespace sdxl::pipeline

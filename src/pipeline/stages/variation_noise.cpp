#include "pipeline/stages/variation_noise.h"

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

}  // namespace sdxl::pipeline

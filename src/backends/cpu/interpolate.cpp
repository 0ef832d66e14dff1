#include "backends/cpu/interpolate.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace sdxl::cpu {
namespace {

// One output index's taps along an axis.
struct Taps {
  std::vector<int64_t> index;
  std::vector<float> weight;
};

float cubic_a075_inner(float x) { constexpr float A = -0.75f; return ((A + 2) * x - (A + 3)) * x * x + 1; }
float cubic_a075_outer(float x) { constexpr float A = -0.75f; return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

float pil_filter(float x, bool cubic) {
  x = std::abs(x);
  if (!cubic) return x < 1.0f ? 1.0f - x : 0.0f;
  constexpr float a = -0.5f;
  if (x < 1.0f) return ((a + 2.0f) * x - (a + 3.0f)) * x * x + 1.0f;
  if (x < 2.0f) return (((x - 5.0f) * x + 8.0f) * x - 4.0f) * a;
  return 0.0f;
}

std::vector<Taps> axis_taps(int64_t in, int64_t out, InterpolateMode mode, bool antialias) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  std::vector<Taps> taps(static_cast<size_t>(out));
  auto clamp = [&](int64_t i) { return std::min(std::max<int64_t>(i, 0), in - 1); };
  for (int64_t d = 0; d < out; ++d) {
    Taps& t = taps[static_cast<size_t>(d)];
    if (mode == InterpolateMode::Nearest || mode == InterpolateMode::NearestExact) {
      int64_t src = d;
      if (out == 2 * in && mode == InterpolateMode::Nearest) src = d >> 1;
      else if (out != in) {
        const float at = mode == InterpolateMode::Nearest ? static_cast<float>(d) * scale
                                                          : static_cast<float>((static_cast<double>(d) + 0.5) * scale);
        src = std::min(static_cast<int64_t>(std::floor(at)), in - 1);
      }
      t.index = {src};
      t.weight = {1.0f};
    } else if (antialias) {
      const bool cubic = mode == InterpolateMode::Bicubic;
      const float centre = scale * (static_cast<float>(d) + 0.5f);
      const float support_scale = scale >= 1.0f ? scale : 1.0f;
      const float support = (cubic ? 2.0f : 1.0f) * support_scale, inv = 1.0f / support_scale;
      const int64_t lo = std::max<int64_t>(static_cast<int64_t>(centre - support + 0.5f), 0);
      const int64_t hi = std::min<int64_t>(static_cast<int64_t>(centre + support + 0.5f), in);
      float total = 0;
      for (int64_t j = lo; j < hi; ++j) {
        const float w = pil_filter((static_cast<float>(j) - centre + 0.5f) * inv, cubic);
        t.index.push_back(j);
        t.weight.push_back(w);
        total += w;
      }
      if (total != 0.0f)
        for (float& w : t.weight) w /= total;
    } else if (mode == InterpolateMode::Bilinear) {
      float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
      if (src < 0) src = 0;
      const int64_t i0 = std::min(static_cast<int64_t>(src), in - 1);
      const float l1 = std::min(std::max(src - static_cast<float>(i0), 0.0f), 1.0f);
      t.index = {i0, i0 < in - 1 ? i0 + 1 : i0};
      t.weight = {1.0f - l1, l1};
    } else {  // bicubic
      const float src = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
      const int64_t i = static_cast<int64_t>(std::floor(src));
      const float x = src - static_cast<float>(i);
      t.index = {clamp(i - 1), clamp(i), clamp(i + 1), clamp(i + 2)};
      const float x2 = 1.0f - x;
      t.weight = {cubic_a075_outer(x + 1.0f), cubic_a075_inner(x), cubic_a075_inner(x2), cubic_a075_outer(x2 + 1.0f)};
    }
  }
  return taps;
}

}  // namespace

void interpolate_planes(const float* in, float* out, int64_t planes, int64_t height, int64_t width, int64_t out_height,
                        int64_t out_width, InterpolateMode mode, bool antialias) {
  const auto across = axis_taps(width, out_width, mode, antialias);
  const auto down = axis_taps(height, out_height, mode, antialias);
  std::vector<float> rows(static_cast<size_t>(height * out_width));  // one plane, resized in width
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = in + p * height * width;
    for (int64_t y = 0; y < height; ++y)
      for (int64_t x = 0; x < out_width; ++x) {
        const Taps& t = across[static_cast<size_t>(x)];
        float sum = 0;
        for (size_t k = 0; k < t.index.size(); ++k) sum += t.weight[k] * src[y * width + t.index[k]];
        rows[static_cast<size_t>(y * out_width + x)] = sum;
      }
    float* dst = out + p * out_height * out_width;
    for (int64_t y = 0; y < out_height; ++y) {
      const Taps& t = down[static_cast<size_t>(y)];
      for (int64_t x = 0; x < out_width; ++x) {
        float sum = 0;
        for (size_t k = 0; k < t.index.size(); ++k) sum += t.weight[k] * rows[static_cast<size_t>(t.index[k] * out_width + x)];
        dst[y * out_width + x] = sum;
      }
    }
  }
}

}  // namespace sdxl::cpu

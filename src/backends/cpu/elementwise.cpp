#include "backends/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "backends/cpu/simd_math.h"
#include "core/parallel.h"

namespace sdxl::cpu {
namespace {

constexpr int64_t kParallelThreshold = 1 << 15;

template <typename Op>
void binary(const float* a, const float* b, float* out, int64_t n, Op op) {
  constexpr int64_t kBlock = 4096;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_for(blocks, n >= kParallelThreshold, [&](int64_t blk) {
    const int64_t end = (blk + 1) * kBlock < n ? (blk + 1) * kBlock : n;
#pragma omp simd
    for (int64_t i = blk * kBlock; i < end; ++i) out[i] = op(a[i], b[i]);
  });
}

template <typename Op>
void broadcast(const float* a, const float* b, float* out, int64_t outer, int64_t middle, int64_t inner, Op op) {
  parallel_for(outer * middle, outer * middle * inner >= kParallelThreshold, [&](int64_t row) {
    const float* x = a + row * inner;
    const float* v = b + (row / middle) * inner;
    float* y = out + row * inner;
#pragma omp simd
    for (int64_t i = 0; i < inner; ++i) y[i] = op(x[i], v[i]);
  });
}

}  // namespace

void add(const float* a, const float* b, float* out, int64_t n) {
  binary(a, b, out, n, [](float x, float y) { return x + y; });
}
void scale(const float* in, float alpha, float* out, int64_t n) {
  binary(in, in, out, n, [alpha](float x, float) { return x * alpha; });
}
void add_broadcast(const float* a, const float* b, float* out, int64_t outer, int64_t middle, int64_t inner) {
  broadcast(a, b, out, outer, middle, inner, [](float x, float y) { return x + y; });
}
void mul_broadcast(const float* a, const float* b, float* out, int64_t outer, int64_t middle, int64_t inner) {
  broadcast(a, b, out, outer, middle, inner, [](float x, float y) { return x * y; });
}

void concat_last(const float* a, int64_t ca, const float* b, int64_t cb, float* out, int64_t rows) {
  const int64_t c = ca + cb;
  parallel_for(rows, rows * c >= kParallelThreshold, [&](int64_t r) {
    std::memcpy(out + r * c, a + r * ca, static_cast<size_t>(ca) * sizeof(float));
    std::memcpy(out + r * c + ca, b + r * cb, static_cast<size_t>(cb) * sizeof(float));
  });
}

namespace {
// out[n][c][r] = in[n][r][c] for an [rows, cols] matrix per batch entry, in cache-sized tiles.
void transpose_batched(const float* in, float* out, int64_t batch, int64_t rows, int64_t cols) {
  constexpr int64_t kTile = 32;
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  parallel_for(batch * row_tiles, batch * rows * cols >= kParallelThreshold, [&](int64_t task) {
    const int64_t n = task / row_tiles, r0 = (task % row_tiles) * kTile;
    {
      const float* src = in + n * rows * cols;
      float* dst = out + n * rows * cols;
      const int64_t r1 = r0 + kTile < rows ? r0 + kTile : rows;
      for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
        const int64_t c1 = c0 + kTile < cols ? c0 + kTile : cols;
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  });
}
}  // namespace

void nchw_to_nhwc(const float* in, float* out, int64_t batch, int64_t channels, int64_t pixels) {
  transpose_batched(in, out, batch, channels, pixels);
}

void nhwc_to_nchw(const float* in, float* out, int64_t batch, int64_t channels, int64_t pixels) {
  transpose_batched(in, out, batch, pixels, channels);
}

void fill(float* out, float value, int64_t n) { std::fill(out, out + n, value); }

void scale_shift(const float* in, float alpha, float beta, float* out, int64_t n) {
  parallel_for((n + 4095) / 4096, n >= kParallelThreshold, [&](int64_t blk) {
    const int64_t end = std::min(n, (blk + 1) * 4096);
#pragma omp simd
    for (int64_t i = blk * 4096; i < end; ++i) out[i] = in[i] * alpha + beta;
  });
}

void soft_clamp(const float* in, float limit, float* out, int64_t n) {
  parallel_for((n + 4095) / 4096, n >= kParallelThreshold, [&](int64_t blk) {
    const int64_t end = std::min(n, (blk + 1) * 4096);
    for (int64_t i = blk * 4096; i < end; ++i) out[i] = std::tanh(in[i] / limit) * limit;
  });
}

void diagonal_gaussian(const float* moments, int64_t batch, int64_t plane, float* mean, float* logvar, float* std) {
  parallel_for(batch, batch * plane >= kParallelThreshold, [&](int64_t n) {
    const float* m = moments + n * 2 * plane;
    for (int64_t i = 0; i < plane; ++i) {
      const float v = std::clamp(m[plane + i], -30.0f, 20.0f);
      mean[n * plane + i] = m[i];
      logvar[n * plane + i] = v;
      std[n * plane + i] = std::exp(0.5f * v);
    }
  });
}

void copy_rows(const float* in, int64_t in_stride, float* out, int64_t out_stride, int64_t rows, int64_t width) {
  parallel_for(rows, rows * width >= kParallelThreshold, [&](int64_t r) {
    std::memcpy(out + r * out_stride, in + r * in_stride, static_cast<size_t>(width) * sizeof(float));
  });
}

}  // namespace sdxl::cpu

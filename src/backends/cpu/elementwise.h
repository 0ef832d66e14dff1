// Element-wise arithmetic and layout ops on contiguous f32. Outputs may alias the first input.
#pragma once

#include <cstdint>

namespace sdxl::cpu {

void add(const float* a, const float* b, float* out, int64_t n);
void scale(const float* in, float alpha, float* out, int64_t n);
void fill(float* out, float value, int64_t n);
// out = in * alpha + beta
void scale_shift(const float* in, float alpha, float beta, float* out, int64_t n);
// out = tanh(in / limit) * limit: values pulled smoothly into (-limit, limit)
void soft_clamp(const float* in, float limit, float* out, int64_t n);
// diffusers' DiagonalGaussianDistribution of moments [N, 2P] (P means, then P log-variances):
// mean, logvar clamped to [-30, 20] and std = exp(logvar / 2), each [N, P].
void diagonal_gaussian(const float* moments, int64_t batch, int64_t plane, float* mean, float* logvar, float* std);
// `rows` rows of `width` floats from `in` (rows `in_stride` apart) to `out` (`out_stride` apart).
void copy_rows(const float* in, int64_t in_stride, float* out, int64_t out_stride, int64_t rows, int64_t width);
// out[n, m, c] = a[n, m, c] op b[n, c]: b broadcast over the middle axis (a per-sample vector
// added to every pixel, e.g. the time embedding in a ResnetBlock).
void add_broadcast(const float* a, const float* b, float* out, int64_t outer, int64_t middle, int64_t inner);
void mul_broadcast(const float* a, const float* b, float* out, int64_t outer, int64_t middle, int64_t inner);
// Concatenation along the last axis: a [rows, ca] and b [rows, cb] -> out [rows, ca + cb]
// (channel concat for NHWC, the UNet skip connections). `out` must not alias the inputs.
void concat_last(const float* a, int64_t ca, const float* b, int64_t cb, float* out, int64_t rows);

// Layout changes at the model boundaries: [N, C, P] <-> [N, P, C] (P = H * W), blocked transposes.
void nchw_to_nhwc(const float* in, float* out, int64_t batch, int64_t channels, int64_t pixels);
void nhwc_to_nchw(const float* in, float* out, int64_t batch, int64_t channels, int64_t pixels);

}  // namespace sdxl::cpu

// Plain reference loops (double accumulation, no tricks) that the kernels are tested against.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace sdxl::reference {

// y[M,N] = x[M,K] W[N,K]^T + b
inline std::vector<float> linear(const std::vector<float>& x, const std::vector<float>& w, const float* b, int64_t m,
                                 int64_t n, int64_t k) {
  std::vector<float> y(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = b ? b[j] : 0.0;
      for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(x[i * k + p]) * w[j * k + p];
      y[i * n + j] = static_cast<float>(acc);
    }
  return y;
}

// NHWC input, OIHW weights.
inline std::vector<float> conv2d(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                                 int64_t batch, int64_t h, int64_t wd, int64_t ci, int64_t co, int64_t k, int64_t stride,
                                 int64_t pt, int64_t pl, int64_t pb, int64_t pr) {
  const int64_t oh = (h + pt + pb - k) / stride + 1, ow = (wd + pl + pr - k) / stride + 1;
  std::vector<float> y(static_cast<size_t>(batch * oh * ow * co));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox)
        for (int64_t o = 0; o < co; ++o) {
          double acc = b.empty() ? 0.0 : b[o];
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              for (int64_t c = 0; c < ci; ++c)
                acc += static_cast<double>(x[((n * h + iy) * wd + ix) * ci + c]) * w[((o * ci + c) * k + ky) * k + kx];
            }
          y[((n * oh + oy) * ow + ox) * co + o] = static_cast<float>(acc);
        }
  return y;
}

inline double silu(double v) { return v / (1.0 + std::exp(-v)); }

inline std::vector<float> group_norm(const std::vector<float>& x, int64_t batch, int64_t pixels, int64_t channels,
                                     int64_t groups, const std::vector<float>& gamma, const std::vector<float>& beta,
                                     double eps, bool with_silu) {
  std::vector<float> y(x.size());
  const int64_t cpg = channels / groups;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t g = 0; g < groups; ++g) {
      double sum = 0, sq = 0;
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c) sum += x[(n * pixels + p) * channels + c];
      const double mean = sum / static_cast<double>(pixels * cpg);
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c) {
          double d = x[(n * pixels + p) * channels + c] - mean;
          sq += d * d;
        }
      const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(pixels * cpg) + eps);
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t c = g * cpg; c < (g + 1) * cpg; ++c) {
          const size_t i = static_cast<size_t>((n * pixels + p) * channels + c);
          double v = (x[i] - mean) * rstd * gamma[c] + beta[c];
          y[i] = static_cast<float>(with_silu ? silu(v) : v);
        }
    }
  return y;
}

inline std::vector<float> layer_norm(const std::vector<float>& x, int64_t rows, int64_t channels,
                                     const std::vector<float>& gamma, const std::vector<float>& beta, double eps) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0, sq = 0;
    for (int64_t c = 0; c < channels; ++c) sum += x[r * channels + c];
    const double mean = sum / static_cast<double>(channels);
    for (int64_t c = 0; c < channels; ++c) sq += (x[r * channels + c] - mean) * (x[r * channels + c] - mean);
    const double rstd = 1.0 / std::sqrt(sq / static_cast<double>(channels) + eps);
    for (int64_t c = 0; c < channels; ++c)
      y[r * channels + c] = static_cast<float>((x[r * channels + c] - mean) * rstd * gamma[c] + beta[c]);
  }
  return y;
}

inline std::vector<float> softmax(const std::vector<float>& x, int64_t rows, int64_t cols) {
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double m = -std::numeric_limits<double>::infinity(), s = 0;
    for (int64_t c = 0; c < cols; ++c) m = std::fmax(m, x[r * cols + c]);
    for (int64_t c = 0; c < cols; ++c) s += std::exp(x[r * cols + c] - m);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = static_cast<float>(std::exp(x[r * cols + c] - m) / s);
  }
  return y;
}

// q [B, Lq, H*D], k/v [B, Lk, H*D] -> [B, Lq, H*D]
inline std::vector<float> attention(const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, int64_t batch, int64_t heads, int64_t lq, int64_t lk,
                                    int64_t d, bool causal) {
  const int64_t c = heads * d;
  std::vector<float> out(static_cast<size_t>(batch * lq * c));
  std::vector<double> s(static_cast<size_t>(lk));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < lq; ++i) {
        double m = -1e300;
        for (int64_t j = 0; j < lk; ++j) {
          double acc = 0;
          for (int64_t t = 0; t < d; ++t) acc += static_cast<double>(q[(b * lq + i) * c + h * d + t]) * k[(b * lk + j) * c + h * d + t];
          acc /= std::sqrt(static_cast<double>(d));
          if (causal && j > i + (lk - lq)) acc = -std::numeric_limits<double>::infinity();
          s[j] = acc;
          m = std::fmax(m, acc);
        }
        double total = 0;
        for (int64_t j = 0; j < lk; ++j) total += (s[j] = std::exp(s[j] - m));
        for (int64_t t = 0; t < d; ++t) {
          double acc = 0;
          for (int64_t j = 0; j < lk; ++j) acc += s[j] / total * v[(b * lk + j) * c + h * d + t];
          out[(b * lq + i) * c + h * d + t] = static_cast<float>(acc);
        }
      }
  return out;
}

}  // namespace sdxl::reference

#include "backends/cpu/norm.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/scratch.h"
#include "backends/cpu/simd_math.h"
#include "core/parallel.h"

namespace sdxl::cpu {
namespace {

// Per-channel sums over a range of pixels; float within a short chunk, double across chunks,
// so the statistics of a 128x128 image stay accurate to float rounding.
constexpr int64_t kPixelChunk = 256;

// Per channel c, adds sum_p d and sum_p d^2, d = x[p, c] - shift[c], into sum[c] and square[c]:
// `V` vectors of channels from `c0` held in registers while the chunk's pixels stream by.
template <int V>
void moments_block(const float* x, int64_t p0, int64_t p1, int64_t channels, int64_t c0, const float* shift,
                   double* sum, double* square) {
#ifdef SDXL_CPU_AVX512
  __m512 s[V], q[V], k[V];
  for (int v = 0; v < V; ++v) {
    s[v] = q[v] = _mm512_setzero_ps();
    k[v] = _mm512_loadu_ps(shift + c0 + 16 * v);
  }
  for (int64_t p = p0; p < p1; ++p) {
    const float* row = x + p * channels + c0;
    for (int v = 0; v < V; ++v) {
      const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(row + 16 * v), k[v]);
      s[v] = _mm512_add_ps(s[v], d);
      q[v] = _mm512_fmadd_ps(d, d, q[v]);
    }
  }
  alignas(64) float lanes[2][16];
  for (int v = 0; v < V; ++v) {
    _mm512_store_ps(lanes[0], s[v]);
    _mm512_store_ps(lanes[1], q[v]);
    for (int i = 0; i < 16; ++i) {
      sum[c0 + 16 * v + i] += lanes[0][i];
      square[c0 + 16 * v + i] += lanes[1][i];
    }
  }
#else
  (void)x, (void)p0, (void)p1, (void)channels, (void)c0, (void)shift, (void)sum, (void)square;
#endif
}

void accumulate_moments(const float* x, int64_t pixels, int64_t channels, const float* shift, double* sum,
                        double* square) {
  for (int64_t p0 = 0; p0 < pixels; p0 += kPixelChunk) {
    const int64_t p1 = std::min(pixels, p0 + kPixelChunk);
    int64_t c = 0;
#ifdef SDXL_CPU_AVX512
    for (; c + 128 <= channels; c += 128) moments_block<8>(x, p0, p1, channels, c, shift, sum, square);
    for (; c + 16 <= channels; c += 16) moments_block<1>(x, p0, p1, channels, c, shift, sum, square);
#endif
    for (; c < channels; ++c) {
      float s = 0.0f, q = 0.0f;
      for (int64_t p = p0; p < p1; ++p) {
        const float d = x[p * channels + c] - shift[c];
        s += d;
        q += d * d;
      }
      sum[c] += s;
      square[c] += q;
    }
  }
}

// One pass over x [pixels, C]: per channel, the sums of d = x - shift_c and of d^2, the pixels
// split over the threads.
void channel_moments(const float* x, int64_t pixels, int64_t channels, const float* shift, double* sum,
                     double* square) {
  const int threads = omp_get_max_threads();
  // Per-thread partial sums [threads][2C] in double.
  const size_t partial_count = static_cast<size_t>(threads * 2 * channels);
  double* partial = thread_scratch<double>(0, partial_count);
  std::fill(partial, partial + partial_count, 0.0);
#pragma omp parallel
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    const int64_t p0 = pixels * t / nt, p1 = pixels * (t + 1) / nt;
    double* mine = partial + t * 2 * channels;
    accumulate_moments(x + p0 * channels, p1 - p0, channels, shift, mine, mine + channels);
  }
  for (int64_t c = 0; c < channels; ++c) {
    double s = 0.0, q = 0.0;
    for (int t = 0; t < threads; ++t) {
      s += partial[t * 2 * channels + c];
      q += partial[t * 2 * channels + channels + c];
    }
    sum[c] = s;
    square[c] = q;
  }
}

// Each channel's mean over the first pixels: a shift close to the mean keeps the one-pass sums
// of squares free of cancellation when a channel's mean is large against its spread.
void shift_near_mean(const float* x, int64_t pixels, int64_t channels, float* shift) {
  const int64_t count = std::min(pixels, kPixelChunk);
  for (int64_t c = 0; c < channels; ++c) {
    double total = 0.0;
    for (int64_t p = 0; p < count; ++p) total += x[p * channels + c];
    shift[c] = count > 0 ? static_cast<float>(total / static_cast<double>(count)) : 0.0f;
  }
}

// Group mean and 1/sqrt(var + eps) from per-channel sums of d = x - shift_c and d^2 over `pixels`.
void moments_to_statistics(const double* sum, const double* square, const float* shift, int64_t pixels,
                           int64_t channels, int64_t groups, float eps, double* mean, double* rstd) {
  const int64_t per_group = channels / groups;
  const double n = static_cast<double>(pixels);
  const double count = n * static_cast<double>(per_group);
  for (int64_t g = 0; g < groups; ++g) {
    double total = 0.0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) total += sum[c] + n * shift[c];
    const double m = total / count;
    // sum over the group of (x - m)^2 = (d + k)^2, k = shift_c - m.
    double squares = 0.0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
      const double k = static_cast<double>(shift[c]) - m;
      squares += square[c] + 2.0 * k * sum[c] + n * k * k;
    }
    mean[g] = m;
    rstd[g] = 1.0 / std::sqrt(std::max(0.0, squares / count) + static_cast<double>(eps));
  }
}

}  // namespace

void group_norm_statistics_nhwc(const float* x, int64_t pixels, int64_t channels, int64_t groups, float eps,
                                double* mean, double* rstd) {
  double* sums = thread_scratch<double>(1, 2 * static_cast<size_t>(channels));
  float* shift = thread_scratch<float>(2, static_cast<size_t>(channels));
  shift_near_mean(x, pixels, channels, shift);
  channel_moments(x, pixels, channels, shift, sums, sums + channels);
  moments_to_statistics(sums, sums + channels, shift, pixels, channels, groups, eps, mean, rstd);
}

void group_norm_apply_nhwc(const float* in, float* out, int64_t pixels, int64_t channels, int64_t groups,
                           const double* mean, const double* rstd, const float* gamma, const float* beta,
                           bool fuse_silu) {
  const int64_t per_group = channels / groups;
  float* scale = thread_scratch<float>(1, 2 * static_cast<size_t>(channels));
  float* shift = scale + channels;
  // y = x * scale_c + shift_c, scale_c = rstd_g * gamma_c, shift_c = beta_c - mean_g * scale_c.
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t g = c / per_group;
    const double s = rstd[g] * (gamma ? gamma[c] : 1.0f);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>((beta ? beta[c] : 0.0f) - mean[g] * s);
  }
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < pixels; ++p) {
    const float* row = in + p * channels;
    float* dst = out + p * channels;
    int64_t c = 0;
#ifdef SDXL_CPU_AVX512
    for (; c + 16 <= channels; c += 16) {
      __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(row + c), _mm512_loadu_ps(scale + c), _mm512_loadu_ps(shift + c));
      if (fuse_silu) v = _mm512_mul_ps(v, sigmoid512(v));
      _mm512_storeu_ps(dst + c, v);
    }
#endif
    for (; c < channels; ++c) {
      float v = row[c] * scale[c] + shift[c];
      dst[c] = fuse_silu ? v / (1.0f + std::exp(-v)) : v;
    }
  }
}

void group_norm_nhwc(const float* in, float* out, int64_t batch, int64_t pixels, int64_t channels, int64_t groups,
                     const float* gamma, const float* beta, float eps, bool fuse_silu) {
  double* stats = thread_scratch<double>(2, 2 * static_cast<size_t>(groups));
  for (int64_t n = 0; n < batch; ++n) {
    const size_t offset = static_cast<size_t>(n * pixels * channels);
    group_norm_statistics_nhwc(in + offset, pixels, channels, groups, eps, stats, stats + groups);
    group_norm_apply_nhwc(in + offset, out + offset, pixels, channels, groups, stats, stats + groups, gamma, beta,
                          fuse_silu);
  }
}

void GroupMoments::add(const float* x, int64_t pixels) {
  if (pixels <= 0) return;
  if (!shifted_) {
    shift_near_mean(x, pixels, channels_, shift_.data());
    shifted_ = true;
  }
  std::vector<double> sums(static_cast<size_t>(channels_)), squares(static_cast<size_t>(channels_));
  channel_moments(x, pixels, channels_, shift_.data(), sums.data(), squares.data());
  for (int64_t c = 0; c < channels_; ++c) {
    sum_[c] += sums[c];
    squares_[c] += squares[c];
  }
  pixels_ += pixels;
}

void GroupMoments::finish(float eps, double* mean, double* rstd) const {
  moments_to_statistics(sum_.data(), squares_.data(), shift_.data(), pixels_, channels_, groups_, eps, mean, rstd);
}

void layer_norm(const float* in, float* out, int64_t rows, int64_t channels, const float* gamma, const float* beta,
                float eps) {
  parallel_for(rows, rows * channels >= (1 << 14), [&](int64_t r) {
    const float* x = in + r * channels;
    float* y = out + r * channels;
    double sum = 0.0;
    int64_t c = 0;
#ifdef SDXL_CPU_AVX512
    __m512 acc = _mm512_setzero_ps();
    for (; c + 16 <= channels; c += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + c));
    sum = reduce_add(acc);
#endif
    for (; c < channels; ++c) sum += x[c];
    const float mean = static_cast<float>(sum / static_cast<double>(channels));
    double sq = 0.0;
    c = 0;
#ifdef SDXL_CPU_AVX512
    __m512 acc2 = _mm512_setzero_ps();
    const __m512 vmean = _mm512_set1_ps(mean);
    for (; c + 16 <= channels; c += 16) {
      __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + c), vmean);
      acc2 = _mm512_fmadd_ps(d, d, acc2);
    }
    sq = reduce_add(acc2);
#endif
    for (; c < channels; ++c) sq += static_cast<double>((x[c] - mean) * (x[c] - mean));
    const float rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(channels) + eps));
    c = 0;
#ifdef SDXL_CPU_AVX512
    const __m512 vrstd = _mm512_set1_ps(rstd);
    for (; c + 16 <= channels; c += 16) {
      __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + c), vmean), vrstd);
      v = gamma ? _mm512_mul_ps(v, _mm512_loadu_ps(gamma + c)) : v;
      v = beta ? _mm512_add_ps(v, _mm512_loadu_ps(beta + c)) : v;
      _mm512_storeu_ps(y + c, v);
    }
#endif
    for (; c < channels; ++c) {
      float v = (x[c] - mean) * rstd;
      if (gamma) v *= gamma[c];
      if (beta) v += beta[c];
      y[c] = v;
    }
  });
}

}  // namespace sdxl::cpu

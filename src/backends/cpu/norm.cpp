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

// Adds sum_p f(x[p, c]) for each channel c into acc[c] (double), f(v) = v or (v - mean_c)^2.
template <bool Squared>
void accumulate_channels(const float* x, int64_t pixels, int64_t channels, const float* mean, double* acc,
                         float* scratch) {
  for (int64_t p0 = 0; p0 < pixels; p0 += kPixelChunk) {
    const int64_t p1 = std::min(pixels, p0 + kPixelChunk);
    std::fill(scratch, scratch + channels, 0.0f);
    for (int64_t p = p0; p < p1; ++p) {
      const float* row = x + p * channels;
      int64_t c = 0;
#ifdef SDXL_CPU_AVX512
      for (; c + 16 <= channels; c += 16) {
        __m512 v = _mm512_loadu_ps(row + c);
        if constexpr (Squared) {
          v = _mm512_sub_ps(v, _mm512_loadu_ps(mean + c));
          v = _mm512_mul_ps(v, v);
        }
        _mm512_storeu_ps(scratch + c, _mm512_add_ps(_mm512_loadu_ps(scratch + c), v));
      }
#endif
      for (; c < channels; ++c) {
        float v = row[c];
        if constexpr (Squared) v = (v - mean[c]) * (v - mean[c]);
        scratch[c] += v;
      }
    }
    for (int64_t c = 0; c < channels; ++c) acc[c] += scratch[c];
  }
}

// out[c] = sum over the pixels of x[p, c] (mean null) or of (x[p, c] - mean[c])^2, the pixels
// split over the threads.
void channel_sums(const float* x, int64_t pixels, int64_t channels, const float* mean, double* out) {
  const int threads = omp_get_max_threads();
  // Per-thread partial sums [threads][C] in double, plus a float scratch row per thread.
  const size_t partial_count = static_cast<size_t>(threads * channels);
  double* partial = thread_scratch<double>(0, partial_count);
  float* scratch = thread_scratch<float>(0, partial_count);
  std::fill(partial, partial + partial_count, 0.0);
#pragma omp parallel
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    const int64_t p0 = pixels * t / nt, p1 = pixels * (t + 1) / nt;
    double* acc = partial + t * channels;
    float* tmp = scratch + t * channels;
    if (mean)
      accumulate_channels<true>(x + p0 * channels, p1 - p0, channels, mean, acc, tmp);
    else
      accumulate_channels<false>(x + p0 * channels, p1 - p0, channels, nullptr, acc, tmp);
  }
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0.0;
    for (int t = 0; t < threads; ++t) sum += partial[t * channels + c];
    out[c] = sum;
  }
}

}  // namespace

void group_norm_statistics_nhwc(const float* x, int64_t pixels, int64_t channels, int64_t groups, float eps,
                                double* mean, double* rstd) {
  const int64_t per_group = channels / groups;
  double* sums = thread_scratch<double>(1, static_cast<size_t>(channels));
  float* channel_mean = thread_scratch<float>(2, static_cast<size_t>(channels));
  const double count = static_cast<double>(pixels * per_group);
  const auto group_total = [&](int64_t g) {
    double total = 0.0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) total += sums[c];
    return total;
  };
  channel_sums(x, pixels, channels, nullptr, sums);
  for (int64_t g = 0; g < groups; ++g) {
    mean[g] = group_total(g) / count;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) channel_mean[c] = static_cast<float>(mean[g]);
  }
  channel_sums(x, pixels, channels, channel_mean, sums);
  for (int64_t g = 0; g < groups; ++g) rstd[g] = 1.0 / std::sqrt(group_total(g) / count + static_cast<double>(eps));
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
  std::vector<double> sums(static_cast<size_t>(channels_)), squares(static_cast<size_t>(channels_));
  channel_sums(x, pixels, channels_, nullptr, sums.data());
  if (!shifted_) {
    // The first band's channel means: shifting by values near the mean keeps the one-pass
    // sums of squares free of cancellation when a channel's mean is large against its spread.
    for (int64_t c = 0; c < channels_; ++c) shift_[c] = static_cast<float>(sums[c] / static_cast<double>(pixels));
    shifted_ = true;
  }
  channel_sums(x, pixels, channels_, shift_.data(), squares.data());
  for (int64_t c = 0; c < channels_; ++c) {
    sum_[c] += sums[c] - static_cast<double>(pixels) * shift_[c];
    squares_[c] += squares[c];
  }
  pixels_ += pixels;
}

void GroupMoments::finish(float eps, double* mean, double* rstd) const {
  const int64_t per_group = channels_ / groups_;
  const double pixels = static_cast<double>(pixels_);
  const double count = pixels * static_cast<double>(per_group);
  for (int64_t g = 0; g < groups_; ++g) {
    double total = 0.0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) total += sum_[c] + pixels * shift_[c];
    const double m = total / count;
    // sum over the group of (x - m)^2, from each channel's sums of d = x - shift_c.
    double squares = 0.0;
    for (int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
      const double k = static_cast<double>(shift_[c]) - m;
      squares += squares_[c] + 2.0 * k * sum_[c] + pixels * k * k;
    }
    mean[g] = m;
    rstd[g] = 1.0 / std::sqrt(std::max(0.0, squares / count) + static_cast<double>(eps));
  }
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

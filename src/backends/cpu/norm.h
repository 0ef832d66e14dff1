// Normalisations on f32. `out` may alias `in`.
#pragma once

#include <cstdint>
#include <vector>

namespace sdxl::cpu {

// GroupNorm over channels-last activations x [N, HW, C]: C is split into `groups` contiguous
// groups, each normalised over (HW, C/groups), then scaled by gamma[C] and shifted by beta[C];
// `fuse_silu` applies SiLU to the result (the ResnetBlock2D / norm_out pattern).
void group_norm_nhwc(const float* in, float* out, int64_t batch, int64_t pixels, int64_t channels, int64_t groups,
                     const float* gamma, const float* beta, float eps, bool fuse_silu);

// The same in two steps, for one image [pixels, C]: the statistics (mean and 1/sqrt(var + eps)
// per group, from one pass: each channel's sums of d = x - shift and d^2, shift the channel's
// mean over the first pixels, float within short chunks and double across them), then the
// normalisation of any pixels with them.
void group_norm_statistics_nhwc(const float* x, int64_t pixels, int64_t channels, int64_t groups, float eps,
                                double* mean, double* rstd);
void group_norm_apply_nhwc(const float* in, float* out, int64_t pixels, int64_t channels, int64_t groups,
                           const double* mean, const double* rstd, const float* gamma, const float* beta,
                           bool fuse_silu);

// Group statistics of an image seen a band of pixels at a time (the image itself is never
// whole): per channel, the sums of x - shift and of (x - shift)^2 with the shift taken from the
// first band, float within short chunks and double across them, as group_norm_statistics_nhwc.
class GroupMoments {
 public:
  GroupMoments(int64_t channels, int64_t groups)
      : channels_(channels), groups_(groups), shift_(channels, 0.0f), sum_(channels, 0.0), squares_(channels, 0.0) {}
  void add(const float* x, int64_t pixels);  // x [pixels, C]
  void finish(float eps, double* mean, double* rstd) const;
  int64_t pixels() const { return pixels_; }

 private:
  int64_t channels_, groups_, pixels_ = 0;
  bool shifted_ = false;
  std::vector<float> shift_;
  std::vector<double> sum_, squares_;
};

// LayerNorm over the last axis: x [rows, C].
void layer_norm(const float* in, float* out, int64_t rows, int64_t channels, const float* gamma, const float* beta,
                float eps);

}  // namespace sdxl::cpu

// 2-D convolution on channels-last activations through oneDNN, with weights reordered once into
// the blocked layout oneDNN prefers, bias fused, and an optional fused residual add.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "backends/cpu/matmul.h"

namespace sdxl::cpu {

struct Conv2dGeometry {
  int64_t out_channels = 0;
  int64_t in_channels = 0;
  int64_t kernel = 3;  // square kernels only: SDXL uses 3x3 and 1x1
  int64_t stride = 1;
  // Padding per side; the VAE encoder's downsampler pads only bottom and right.
  int64_t pad_top = 1, pad_left = 1, pad_bottom = 1, pad_right = 1;

  int64_t out_height(int64_t height) const { return (height + pad_top + pad_bottom - kernel) / stride + 1; }
  int64_t out_width(int64_t width) const { return (width + pad_left + pad_right - kernel) / stride + 1; }
  // The convolution PyTorch's Conv2d(in, out, k, stride, padding) describes.
  static Conv2dGeometry symmetric(int64_t out_channels, int64_t in_channels, int64_t kernel, int64_t stride,
                                  int64_t padding);
};

class PackedConv2d {
 public:
  PackedConv2d();
  ~PackedConv2d();
  PackedConv2d(PackedConv2d&&) noexcept;
  PackedConv2d& operator=(PackedConv2d&&) noexcept;

  // `weight` is PyTorch's [O, I, k, k] (copied and reordered), `bias` [O] or null.
  // The blocking is chosen for a typical input size; other sizes reuse or re-derive it.
  static PackedConv2d pack(const float* weight, const float* bias, const Conv2dGeometry& geometry,
                           int64_t typical_height = 64, int64_t typical_width = 64,
                           MatmulPrecision precision = MatmulPrecision::F32);

  // out [N, OH, OW, O] = conv(in [N, H, W, I]) + bias; with `accumulate`, out += ... (residual).
  void forward(const float* in, int64_t batch, int64_t height, int64_t width, float* out,
               bool accumulate = false) const;

  const Conv2dGeometry& geometry() const { return geometry_; }

 private:
  struct State;
  Conv2dGeometry geometry_;
  std::unique_ptr<State> state_;
};

}  // namespace sdxl::cpu

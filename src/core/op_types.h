// The plain descriptions ops and backends share: the arithmetic of a packed layer and the
// geometry of a convolution. Backend-neutral, so model code names no backend's types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sdxl {

// f32 throughout, or bf16 inputs and weights with f32 accumulation and output (activations
// are rounded to bf16, nearest even, on the way in).
enum class Precision { F32, BF16 };

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
                                  int64_t padding) {
    Conv2dGeometry g;
    g.out_channels = out_channels;
    g.in_channels = in_channels;
    g.kernel = kernel;
    g.stride = stride;
    g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = padding;
    return g;
  }
};

// A packed layer as bytes, for the packed-weight cache: `layout` says what the bytes mean to the
// backend that wrote them (shape, arithmetic, blocking, this machine's library); `parts` are its
// buffers. Read back, `owner` keeps the parts' memory (a mapped file) alive.
struct PackedImage {
  struct Part {
    const void* data = nullptr;
    size_t bytes = 0;
  };
  std::string layout;
  std::vector<Part> parts;
  std::shared_ptr<const void> owner;
};

}  // namespace sdxl

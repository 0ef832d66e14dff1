// 2-D convolution on channels-last activations through oneDNN, with weights reordered once into
// the blocked layout oneDNN prefers, bias fused, and an optional fused residual add.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "backends/cpu/matmul.h"

namespace sdxl::cpu {

using Conv2dGeometry = sdxl::Conv2dGeometry;  // core/op_types.h

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

  // The convolution as bytes for the packed-weight cache (parts: the weights in the layout made at
  // pack time, then the bias), and one over such bytes where they are exactly what pack() would
  // make here (as PackedLinear::from_image; nullopt otherwise).
  PackedImage image() const;
  static std::optional<PackedConv2d> from_image(const PackedImage& image, const Conv2dGeometry& geometry,
                                                bool has_bias, MatmulPrecision precision,
                                                int64_t typical_height = 64, int64_t typical_width = 64);

  // The weight [O, I, k, k] and bias [O] back in f32, as packed (bf16: their bf16 values).
  // Returns whether the convolution has a bias (`bias` is left alone when it has none).
  bool unpack(float* weight, float* bias) const;

  // out [N, OH, OW, O] = conv(in [N, H, W, I]) + bias; with `accumulate`, out += ... (residual).
  void forward(const float* in, int64_t batch, int64_t height, int64_t width, float* out,
               bool accumulate = false) const;

  const Conv2dGeometry& geometry() const { return geometry_; }

 private:
  struct State;
  Conv2dGeometry geometry_;
  bool has_bias_ = false;
  std::unique_ptr<State> state_;
};

}  // namespace sdxl::cpu

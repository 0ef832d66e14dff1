// Matrix products on f32: linear layers with weights packed once, and batched GEMM.
//
// Two libraries: OpenBLAS sgemm and oneDNN matmul. Which is faster depends on the shape; the
// kernel benchmark (bench/kernel_bench.cpp) measures both on the SDXL shapes and
// choose_gemm_library() encodes the result.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/op_types.h"

namespace sdxl::cpu {

enum class GemmLibrary { OpenBlas, OneDnn };

// The arithmetic of a packed layer (core/op_types.h).
using MatmulPrecision = sdxl::Precision;

const char* gemm_library_name(GemmLibrary library);
// The library for y[M,N] = x[M,K] W^T. Honours SDXL_GEMM=openblas|onednn in the environment.
GemmLibrary choose_gemm_library(int64_t m, int64_t n, int64_t k);

// A linear layer y = x W^T + b with W [N, K] (PyTorch's layout), prepared once for `library`.
class PackedLinear {
 public:
  PackedLinear();
  ~PackedLinear();
  PackedLinear(PackedLinear&&) noexcept;
  PackedLinear& operator=(PackedLinear&&) noexcept;

  // `weight` [N, K] and `bias` [N] (or null) are copied/reordered: the caller may free them.
  // `typical_rows` is the M the weights are laid out for (oneDNN picks a blocking per shape).
  static PackedLinear pack(const float* weight, const float* bias, int64_t out_features, int64_t in_features,
                           GemmLibrary library, int64_t typical_rows = 4096,
                           MatmulPrecision precision = MatmulPrecision::F32);  // BF16 always uses oneDNN
  // A layer of the same shape, library and precision holding new values (a LoRA merged into
  // this one): oneDNN's weight layout and the primitives this layer made are reused (they do not
  // depend on the values), so the new layer neither queries nor compiles anything.
  PackedLinear repacked(const float* weight, const float* bias) const;
  // The same layer with `weight_delta` [N, K] (and `bias_delta` [N], or null) added, made without
  // unpacking this one: its packed values are copied and the change reordered into them.
  PackedLinear plus(const float* weight_delta, const float* bias_delta) const;
  // The same sum written into this layer's own memory, which must have been made by `base.plus`
  // (or this call) with a change of the same kind: a LoRA swapped for another touches no new
  // pages and keeps the primitives. Returns false, changing nothing, where this layer cannot hold
  // it (another shape, library, arithmetic or layout; a bias where it has none).
  bool assign_plus(const PackedLinear& base, const float* weight_delta, const float* bias_delta);
  // OpenBLAS only: keeps pointers to f32 weights that outlive the layer (an mmapped file), so
  // fp32 checkpoints are not held twice in memory.
  static PackedLinear borrow(const float* weight, const float* bias, int64_t out_features, int64_t in_features);

  // The layer as bytes for the packed-weight cache (parts: the packed weights, then the bias).
  PackedImage image() const;
  // A layer over the bytes of `image` where they are exactly what pack() would make of this
  // shape here (the same layout, library and blocking); nullopt otherwise. The bytes are used
  // where they lie (no copy) and `image.owner` is held.
  static std::optional<PackedLinear> from_image(const PackedImage& image, int64_t out_features, int64_t in_features,
                                                bool has_bias, MatmulPrecision precision, int64_t typical_rows = 4096);

  // The weight [N, K] and bias [N] back in f32, as packed (bf16 layers: their bf16 values).
  // Returns whether the layer has a bias (`bias` is left alone when it has none).
  bool unpack(float* weight, float* bias) const;

  // y [rows, N] = x [rows, K] W^T + b; with `accumulate`, y += x W^T + b (fused residual).
  void forward(const float* x, int64_t rows, float* y, bool accumulate = false) const;

  int64_t out_features() const { return out_features_; }
  int64_t in_features() const { return in_features_; }
  GemmLibrary library() const { return library_; }
  MatmulPrecision precision() const { return precision_; }
  bool empty() const { return out_features_ == 0; }

 private:
  struct OneDnnState;
  // A layer of this shape, library, arithmetic and bias, holding nothing yet.
  static PackedLinear described(int64_t out_features, int64_t in_features, GemmLibrary library,
                                MatmulPrecision precision, bool has_bias);
  // A layer of this shape and layout (oneDNN: and primitives) in memory of its own, its values
  // not yet written.
  PackedLinear shaped_like(bool has_bias) const;
  // oneDNN: this layer's values := base's packed values + the change (same layout).
  void write_sum(const PackedLinear& base, const float* weight_delta, const float* bias_delta);
  int64_t out_features_ = 0;
  int64_t in_features_ = 0;
  GemmLibrary library_ = GemmLibrary::OpenBlas;
  MatmulPrecision precision_ = MatmulPrecision::F32;
  bool has_bias_ = false;
  const float* weight_ = nullptr;  // OpenBLAS: [N, K] row-major, in owned_weight_ or borrowed
  const float* bias_ = nullptr;
  std::vector<float> owned_weight_;
  std::vector<float> owned_bias_;
  std::shared_ptr<const void> borrowed_owner_;  // what borrowed weight_/bias_ point into
  std::unique_ptr<OneDnnState> onednn_;  // oneDNN: packed weights and cached primitives
};

// C[b] = alpha * A[b] op(B[b]) + beta * C[b] for b < batch, row-major with leading dimensions
// and batch strides (in elements); op(B) = B^T when `transpose_b`. OpenBLAS underneath;
// batches run in parallel, one single-threaded GEMM each, when there are enough of them.
void batched_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, int64_t stride_a,
                    const float* b, int64_t ldb, int64_t stride_b, bool transpose_b, float* c, int64_t ldc,
                    int64_t stride_c, float alpha = 1.0f, float beta = 0.0f);

// c [m, n] += alpha * a [m, k] b [k, n], row-major and dense, through oneDNN: OpenBLAS's
// runtime dispatch falls back to SSE3 kernels on CPUs it does not know (0.15 of the FMA peak
// on an Emerald Rapids Xeon). For the LoRA merges: shapes repeat, and oneDNN caches primitives.
void gemm_accumulate(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, float alpha);

// A single row-major GEMM through OpenBLAS (uses the whole team unless called inside one).
void sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           bool transpose_b, float* c, int64_t ldc, float alpha = 1.0f, float beta = 0.0f);

}  // namespace sdxl::cpu

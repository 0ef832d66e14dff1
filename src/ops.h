// The op interface model code calls. Each op checks shapes and dtypes (a mismatch is a clear
// error naming the op), takes its output from the caller's Arena, and routes to a backend.
// Only the CPU backend exists; a CUDA backend will slot in behind the same signatures: callers
// see no backend's types (packed weights hold the CPU backend's behind a pointer to a class
// only declared here: a second backend adds its own beside it), and ops.cpp (with ops_packed.cpp) is the one place
// that routes to a backend.
//
// Layouts: images are channels-last [N, H, W, C]; token sequences are [B, L, C].
#pragma once

#include <array>
#include <string>
#include <cstddef>
#include <vector>

#include <memory>

#include "core/arena.h"
#include "core/op_types.h"
#include "core/tensor.h"

namespace sdxl::cpu {
class PackedLinear;
class PackedConv2d;
class GroupMoments;
}  // namespace sdxl::cpu

namespace sdxl::ops {

// ---- layers with weights packed once at load ----------------------------------------------
using Precision = sdxl::Precision;  // F32, or BF16 inputs and weights with F32 accumulation
using Conv2dGeometry = sdxl::Conv2dGeometry;

// Weights packed for the backend that runs them; model code holds them without knowing which.
struct UnpackedWeights;

class LinearWeights {
 public:
  LinearWeights();
  ~LinearWeights();
  LinearWeights(LinearWeights&&) noexcept;
  LinearWeights& operator=(LinearWeights&&) noexcept;
  int64_t out_features() const;
  int64_t in_features() const;
  bool empty() const { return !cpu_; }

 private:
  friend LinearWeights pack_linear(const Tensor&, const Tensor&, Precision, int64_t);
  friend UnpackedWeights unpack_linear(const LinearWeights&);
  friend UnpackedWeights unpack_linear(Arena&, const LinearWeights&);
  friend LinearWeights repack_linear(const LinearWeights&, const Tensor&, const Tensor&);
  friend LinearWeights linear_plus(const LinearWeights&, const Tensor&, const Tensor&);
  friend bool assign_linear_plus(LinearWeights&, const LinearWeights&, const Tensor&, const Tensor&);
  friend PackedImage packed_image(const LinearWeights&);
  friend LinearWeights linear_from_image(const PackedImage&, int64_t, int64_t, bool, Precision);
  friend Tensor linear(Arena&, const Tensor&, const LinearWeights&);
  friend void linear_accumulate(const Tensor&, const LinearWeights&, Tensor&);
  std::unique_ptr<cpu::PackedLinear> cpu_;
};

class Conv2dWeights {
 public:
  Conv2dWeights();
  ~Conv2dWeights();
  Conv2dWeights(Conv2dWeights&&) noexcept;
  Conv2dWeights& operator=(Conv2dWeights&&) noexcept;
  const Conv2dGeometry& geometry() const;
  bool empty() const { return !cpu_; }

 private:
  friend Conv2dWeights pack_conv2d(const Tensor&, const Tensor&, const Conv2dGeometry&, Precision);
  friend UnpackedWeights unpack_conv2d(const Conv2dWeights&);
  friend PackedImage packed_image(const Conv2dWeights&);
  friend Conv2dWeights conv2d_from_image(const PackedImage&, const Conv2dGeometry&, bool, Precision);
  friend Tensor conv2d(Arena&, const Tensor&, const Conv2dWeights&, const Tensor*);
  friend void conv2d_accumulate(const Tensor&, const Conv2dWeights&, Tensor&);
  std::unique_ptr<cpu::PackedConv2d> cpu_;
};

// weight [N, K] (f32, f16 or bf16; converted once), bias [N] or undefined.
LinearWeights pack_linear(const Tensor& weight, const Tensor& bias, Precision precision = Precision::F32,
                          int64_t typical_rows = 4096);
// New values for a layer shaped as `like` (same shape, precision and layout): what a LoRA swap
// packs, reusing what `like` prepared (its layout and compiled kernels) instead of deriving it again.
LinearWeights repack_linear(const LinearWeights& like, const Tensor& weight, const Tensor& bias);
// `w` with `weight_delta` [out, in] and `bias_delta` [out] (or undefined) added, packed values
// changed without unpacking them (a LoRA put on a loaded layer; bf16 layers round the sum once).
LinearWeights linear_plus(const LinearWeights& w, const Tensor& weight_delta, const Tensor& bias_delta);
// linear_plus(base, ...) written into `target`'s own memory, where `target` was made by
// linear_plus of a layer like `base` with a change of the same kind (another LoRA on the same
// layer): no fresh pages, its prepared kernels kept. Returns false, `target` untouched, where it
// cannot hold the sum (then make one with linear_plus).
bool assign_linear_plus(LinearWeights& target, const LinearWeights& base, const Tensor& weight_delta,
                        const Tensor& bias_delta);
// weight [O, I, k, k], bias [O] or undefined; PyTorch's Conv2d(stride, padding) semantics.
Conv2dWeights pack_conv2d(const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
                          Precision precision = Precision::F32);
Conv2dWeights pack_conv2d(const Tensor& weight, const Tensor& bias, const Conv2dGeometry& geometry,
                          Precision precision = Precision::F32);

// Packed weights back as owned f32 tensors: weight [N, K] / [O, I, k, k], and the bias, undefined
// when there is none. Exact: packing again gives the same layer (bf16 layers give their bf16
// values). What changing a loaded layer's weights (a LoRA swap) starts from.
struct UnpackedWeights {
  Tensor weight, bias;
};
UnpackedWeights unpack_linear(const LinearWeights& w);
// The same in `arena`: a LoRA swap unpacks hundreds of layers, one arena's memory serves them all.
UnpackedWeights unpack_linear(Arena& arena, const LinearWeights& w);
UnpackedWeights unpack_conv2d(const Conv2dWeights& w);

// ---- packed layers as bytes (the packed-weight cache) ------------------------------------
// A layer's packed bytes and what they mean (core/op_types.h).
PackedImage packed_image(const LinearWeights& w);
PackedImage packed_image(const Conv2dWeights& w);
// A layer over the bytes of `image`, used where they lie, when they are exactly what packing a
// layer of this shape and arithmetic makes on this machine now; an empty one when they are not
// (another layout, library or CPU): the caller packs it from the checkpoint instead.
LinearWeights linear_from_image(const PackedImage& image, int64_t out_features, int64_t in_features, bool has_bias,
                                Precision precision);
Conv2dWeights conv2d_from_image(const PackedImage& image, const Conv2dGeometry& geometry, bool has_bias,
                                Precision precision);
// Whose packing the bytes are: the CPU (model and ISA) and the libraries' versions, which a
// packed-weight cache entry is keyed by.
std::string packing_identity();

// x [..., K] -> [..., N]
Tensor linear(Arena& arena, const Tensor& x, const LinearWeights& w);
// residual [..., N] += linear(x): the fused residual add of attention / proj_out layers.
void linear_accumulate(const Tensor& x, const LinearWeights& w, Tensor& residual);
// x [N, H, W, I] -> [N, OH, OW, O]; with `residual` (same shape as the output) it is added.
Tensor conv2d(Arena& arena, const Tensor& x, const Conv2dWeights& w, const Tensor* residual = nullptr);

// out += conv(x): the fused residual add of a ResnetBlock's second convolution.
void conv2d_accumulate(const Tensor& x, const Conv2dWeights& w, Tensor& out);

// ---- normalisation ---------------------------------------------------------------------
// x [N, ..., C] channels-last (all middle axes are pixels).
Tensor group_norm(Arena& arena, const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, float eps,
                  bool fuse_silu = false);
// Group norm in two steps, for decoding an image a band of rows at a time: the statistics of
// one whole image, then the normalisation of any part of it with them. group_norm_apply with
// group_norm_statistics of the same image equals group_norm exactly.
struct GroupStatistics {
  int64_t channels = 0, groups = 0;
  std::vector<double> mean, rstd;  // per group
};
GroupStatistics group_norm_statistics(const Tensor& x, int64_t groups, float eps);  // x [1, ..., C]
// The statistics of an image that is never whole: add its bands (any order), then finish.
class GroupStatisticsAccumulator {
 public:
  GroupStatisticsAccumulator(int64_t channels, int64_t groups);
  ~GroupStatisticsAccumulator();
  GroupStatisticsAccumulator(GroupStatisticsAccumulator&&) noexcept;
  void add(const Tensor& band);  // [1, ..., C]
  GroupStatistics finish(float eps) const;

 private:
  int64_t channels_, groups_;
  std::unique_ptr<cpu::GroupMoments> moments_;
};
// x [1, ..., C] normalised with the statistics of the image it is part of.
Tensor group_norm_apply(Arena& arena, const Tensor& x, const GroupStatistics& statistics, const Tensor& gamma,
                        const Tensor& beta, bool fuse_silu = false);
// over the last axis
Tensor layer_norm(Arena& arena, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps);

// ---- activations (out-of-place and in-place) -------------------------------------------
enum class Activation { Silu, GeluErf, GeluTanh, QuickGelu, Relu, LeakyRelu /* slope 0.2 */ };
Tensor activate(Arena& arena, const Tensor& x, Activation activation);
void activate_inplace(Tensor& x, Activation activation);
// x [..., 2F] -> [..., F] = x[..., :F] * gelu(x[..., F:])
Tensor geglu(Arena& arena, const Tensor& x);

// ---- attention ---------------------------------------------------------------------------
// Tensors are f32 in and out; `precision` BF16 multiplies Q, K, V and the probabilities as bf16
// with f32 sums and softmax statistics (the layers' precision: --precision bf16), where the
// backend has such a kernel for the head size, else f32.
// q [B, Lq, H*D], k and v [B, Lk, H*D] -> [B, Lq, H*D]. Views with a row stride (q, k, v sliced
// from one fused projection) are passed as raw pointers to cpu::attention by callers that need them.
Tensor attention(Arena& arena, const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, bool causal,
                 Precision precision = Precision::F32);
// qkv [B, L, 3C] from one fused projection (q | k | v along the last axis) -> [B, L, C]
Tensor attention_fused_qkv(Arena& arena, const Tensor& qkv, int64_t heads, bool causal,
                           Precision precision = Precision::F32);
// q [B, Lq, C] and kv [B, Lk, 2C] (k | v from one fused projection) -> [B, Lq, C]
Tensor attention_fused_kv(Arena& arena, const Tensor& q, const Tensor& kv, int64_t heads,
                          Precision precision = Precision::F32);

// ---- layout and arithmetic ------------------------------------------------------------------
Tensor copy(Arena& arena, const Tensor& x);
Tensor nchw_to_nhwc(Arena& arena, const Tensor& x);  // [N, C, H, W] -> [N, H, W, C]
Tensor nhwc_to_nchw(Arena& arena, const Tensor& x);  // [N, H, W, C] -> [N, C, H, W]
// rows of `table` [V, C] (f32, f16 or bf16) at `ids` -> [ids.size(), C] f32; ids checked < V
Tensor gather_rows(Arena& arena, const Tensor& table, const int32_t* ids, int64_t count);
Tensor upsample_nearest2x(Arena& arena, const Tensor& x);  // [N, H, W, C] -> [N, 2H, 2W, C]
// Nearest-neighbour resize to [N, OH, OW, C] as torch's interpolate(mode="nearest") does it.
Tensor resize_nearest(Arena& arena, const Tensor& x, int64_t out_height, int64_t out_width);
// [N, H, W, C] -> [N, H/r, W/r, C*r*r], torch's PixelUnshuffle channel order (c*r*r + dy*r + dx).
Tensor pixel_unshuffle(Arena& arena, const Tensor& x, int64_t factor);
// torch.nn.functional.interpolate(x, size, mode, antialias) with align_corners=False (torch
// 1.13): x [N, C, H, W] -> [N, C, out_height, out_width] (backends/cpu/interpolate.h).
enum class Interpolation { Nearest, NearestExact, Bilinear, Bicubic };
Tensor interpolate(Arena& arena, const Tensor& x, int64_t out_height, int64_t out_width, Interpolation mode,
                   bool antialias);
// [N, H, W, C] -> [N, ceil(H/2), ceil(W/2), C]: AvgPool2d(2, 2, ceil_mode=True).
Tensor avg_pool2x2_ceil(Arena& arena, const Tensor& x);
Tensor add(Arena& arena, const Tensor& a, const Tensor& b);  // same shapes
void add_inplace(Tensor& a, const Tensor& b);
// c [M, N] += alpha * a [M, K] b [K, N], all f32: low-rank updates merged into weights at load.
void matmul_accumulate(const Tensor& a, const Tensor& b, float alpha, Tensor& c);
// a [N, ..., C] + b [N, C]: b broadcast over the middle axes.
void add_broadcast_inplace(Tensor& a, const Tensor& b);
// a [..., Ca] ++ b [..., Cb] -> [..., Ca + Cb] (channel concat of NHWC, the UNet skips)
Tensor concat_channels(Arena& arena, const Tensor& a, const Tensor& b);
// a [B, La, D], b [B, Lb, D] -> [B, La + Lb, D]: token sequences joined.
Tensor concat_tokens(Arena& arena, const Tensor& a, const Tensor& b);

// ---- the models' small arithmetic (what a forward pass does between layers) -------------------
// x [N, ...] += t [...]: the same table added to each item of a batch (position embeddings).
void add_to_each_inplace(Tensor& x, const Tensor& t);
// dst = src, element for element (same number of elements; dst's shape may differ).
void copy_into(const Tensor& src, Tensor& dst);
// x's first-axis rows from `first` on replaced by `rows` [count, ...] (x's other axes): tokens
// written over their embeddings (textual inversion).
void write_rows(Tensor& x, int64_t first, const Tensor& rows);
// image [N, C, H, W]: rows [first_row, first_row + R) of item n set from band [C, R, W] (an
// image decoded a band at a time).
void write_band(Tensor& image, int64_t n, int64_t first_row, const Tensor& band);
// diffusers' get_timestep_embedding: values [n] (timesteps, time ids) -> [n, dim] sinusoidal
// features, [sin | cos] or [cos | sin], computed in torch's float32 order.
Tensor timestep_embedding(Arena& arena, const Tensor& values, int64_t dim, bool flip_sin_to_cos, float freq_shift);
// A tensor of `shape` filled with `value`.
Tensor full(Arena& arena, const Shape& shape, float value);
// out = x * scale + shift (out may be x).
void scale_shift(const Tensor& x, float scale, float shift, Tensor& out);
// x = tanh(x / limit) * limit.
void soft_clamp_inplace(Tensor& x, float limit);
// diffusers' DiagonalGaussianDistribution of moments [N, 2C, ...] (means, then log-variances,
// along the second axis) into mean, logvar (clamped to [-30, 20]) and std = exp(logvar / 2),
// each [N, C, ...].
void diagonal_gaussian(const Tensor& moments, Tensor& mean, Tensor& logvar, Tensor& std);

// ---- the backend -----------------------------------------------------------------------------
// Lines "name: value" a bug report needs: ISA, library versions, threads.
std::string backend_facts();
// The backend's per-thread scratch shrinks to what the next op needs (after a large request).
void release_scratch();

// ---- measurement ---------------------------------------------------------------------------
// Floating-point operations (2 per multiply-add) of every linear, convolution and attention
// run since the last reset, from their shapes: what benchmarks divide by time.
double flop_count();
void reset_flop_count();

// Where the time goes, per op family: off by default (two clock reads per op when on). Time
// spent outside these ops (samplers, model glue) is not in the table.
enum class OpFamily { Linear, Convolution, Attention, Normalisation, Activation, Elementwise };
inline constexpr size_t kOpFamilies = 6;
struct FamilyProfile {
  double seconds = 0, flops = 0;
  int64_t calls = 0;
};
void set_profiling(bool enabled);
void reset_profile();
std::array<FamilyProfile, kOpFamilies> profile();  // indexed by OpFamily
const char* op_family_name(OpFamily family);

}  // namespace sdxl::ops

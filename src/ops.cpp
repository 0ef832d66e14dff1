#include "ops.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <vector>

#include "backends/cpu/activation.h"
#include "backends/cpu/attention.h"
#include "backends/cpu/attention_flash.h"
#include "backends/cpu/throughput.h"
#include "backends/cpu/backend_facts.h"
#include "backends/cpu/conv2d.h"
#include "backends/cpu/elementwise.h"
#include "backends/cpu/matmul.h"
#include "backends/cpu/norm.h"
#include "backends/cpu/interpolate.h"
#include "backends/cpu/resample.h"
#include "backends/cpu/scratch.h"
#include "backends/cpu/softmax.h"
#include "backends/cpu/timestep_embedding.h"
#include "core/convert.h"
#include "core/error.h"

namespace sdxl::ops {
namespace {

std::atomic<double> g_flops{0.0};

// The profile: ops are called from one thread at a time (their kernels fan out inside), so a
// plain table is enough; `g_family` is the family of the op in progress, for add_flops.
bool g_profiling = false;
std::array<FamilyProfile, kOpFamilies> g_profile{};
OpFamily g_family = OpFamily::Elementwise;
int g_depth = 0;  // an op calling another op is timed once, as the outer one

void add_flops(double flops) {
  double current = g_flops.load(std::memory_order_relaxed);
  while (!g_flops.compare_exchange_weak(current, current + flops, std::memory_order_relaxed)) {
  }
  if (g_profiling) g_profile[static_cast<size_t>(g_family)].flops += flops;
}

class OpTimer {
 public:
  explicit OpTimer(OpFamily family)
      : family_(family), counted_(g_profiling), active_(counted_ && g_depth++ == 0) {
    if (!active_) return;
    g_family = family;
    start_ = std::chrono::steady_clock::now();
  }
  ~OpTimer() {
    if (counted_) --g_depth;
    if (!active_) return;
    auto& entry = g_profile[static_cast<size_t>(family_)];
    entry.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    ++entry.calls;
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  OpFamily family_;
  bool counted_, active_;
  std::chrono::steady_clock::time_point start_;
};

void require_f32(const char* op, const Tensor& t, const char* what) {
  SDXL_CHECK(t.defined(), InvalidArgument, "[", op, "] ", what, " is undefined");
  SDXL_CHECK(t.dtype() == DType::F32, Unsupported, "[", op, "] ", what, " must be F32, got ", dtype_name(t.dtype()));
}

void require_shape(const char* op, const Tensor& t, const Shape& shape, const char* what) {
  SDXL_CHECK(t.shape() == shape, InvalidArgument, "[", op, "] ", what, " has shape ", t.shape().to_string(),
             ", expected ", shape.to_string());
}

// A float tensor as f32 data: a view when already f32, else a converted copy held in `storage`.
const float* as_f32(const Tensor& t, Tensor& storage) {
  if (t.dtype() == DType::F32) return t.data<float>();
  storage = t.to(DType::F32);
  return storage.data<float>();
}

Shape with_last(const Shape& shape, int64_t last) {
  Shape out = shape;
  out[-1] = last;
  return out;
}

}  // namespace

LinearWeights::LinearWeights() = default;
LinearWeights::~LinearWeights() = default;
LinearWeights::LinearWeights(LinearWeights&&) noexcept = default;
LinearWeights& LinearWeights::operator=(LinearWeights&&) noexcept = default;
int64_t LinearWeights::out_features() const { return cpu_ ? cpu_->out_features() : 0; }
int64_t LinearWeights::in_features() const { return cpu_ ? cpu_->in_features() : 0; }

Conv2dWeights::Conv2dWeights() = default;
Conv2dWeights::~Conv2dWeights() = default;
Conv2dWeights::Conv2dWeights(Conv2dWeights&&) noexcept = default;
Conv2dWeights& Conv2dWeights::operator=(Conv2dWeights&&) noexcept = default;
const Conv2dGeometry& Conv2dWeights::geometry() const {
  SDXL_CHECK(cpu_, Internal, "[conv2d] weights not packed");
  return cpu_->geometry();
}

LinearWeights pack_linear(const Tensor& weight, const Tensor& bias, Precision precision, int64_t typical_rows) {
  SDXL_CHECK(weight.rank() == 2, InvalidArgument, "[linear] weight must be [out, in], got ", weight.shape().to_string());
  const int64_t n = weight.dim(0), k = weight.dim(1);
  if (bias.defined()) require_shape("linear", bias, Shape{n}, "bias");
  Tensor w_storage, b_storage;
  const float* w = as_f32(weight, w_storage);
  const float* b = bias.defined() ? as_f32(bias, b_storage) : nullptr;
  LinearWeights out;
  out.cpu_ = std::make_unique<cpu::PackedLinear>(
      cpu::PackedLinear::pack(w, b, n, k, cpu::choose_gemm_library(typical_rows, n, k), typical_rows, precision));
  return out;
}

LinearWeights repack_linear(const LinearWeights& like, const Tensor& weight, const Tensor& bias) {
  SDXL_CHECK(!like.empty(), InvalidArgument, "[linear] repack like an empty layer");
  require_shape("linear", weight, Shape{like.out_features(), like.in_features()}, "weight");
  if (bias.defined()) require_shape("linear", bias, Shape{like.out_features()}, "bias");
  Tensor w_storage, b_storage;
  const float* w = as_f32(weight, w_storage);
  const float* b = bias.defined() ? as_f32(bias, b_storage) : nullptr;
  LinearWeights out;
  out.cpu_ = std::make_unique<cpu::PackedLinear>(like.cpu_->repacked(w, b));
  return out;
}

namespace {

void require_linear_change(const LinearWeights& w, const Tensor& weight_delta, const Tensor& bias_delta) {
  SDXL_CHECK(!w.empty(), InvalidArgument, "[linear] change of an empty layer");
  require_f32("linear", weight_delta, "weight change");
  require_shape("linear", weight_delta, Shape{w.out_features(), w.in_features()}, "weight change");
  if (bias_delta.defined()) {
    require_f32("linear", bias_delta, "bias change");
    require_shape("linear", bias_delta, Shape{w.out_features()}, "bias change");
  }
}

}  // namespace

bool assign_linear_plus(LinearWeights& target, const LinearWeights& base, const Tensor& weight_delta,
                        const Tensor& bias_delta) {
  require_linear_change(base, weight_delta, bias_delta);
  if (target.empty()) return false;
  return target.cpu_->assign_plus(*base.cpu_, weight_delta.data<float>(),
                                  bias_delta.defined() ? bias_delta.data<float>() : nullptr);
}

LinearWeights linear_plus(const LinearWeights& w, const Tensor& weight_delta, const Tensor& bias_delta) {
  require_linear_change(w, weight_delta, bias_delta);
  LinearWeights out;
  out.cpu_ = std::make_unique<cpu::PackedLinear>(
      w.cpu_->plus(weight_delta.data<float>(), bias_delta.defined() ? bias_delta.data<float>() : nullptr));
  return out;
}

Conv2dWeights pack_conv2d(const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
                          Precision precision) {
  SDXL_CHECK(weight.rank() == 4 && weight.dim(2) == weight.dim(3), InvalidArgument,
             "[conv2d] weight must be [out, in, k, k], got ", weight.shape().to_string());
  return pack_conv2d(weight, bias,
                     Conv2dGeometry::symmetric(weight.dim(0), weight.dim(1), weight.dim(2), stride, padding),
                     precision);
}

Conv2dWeights pack_conv2d(const Tensor& weight, const Tensor& bias, const Conv2dGeometry& geometry,
                          Precision precision) {
  require_shape("conv2d", weight, Shape{geometry.out_channels, geometry.in_channels, geometry.kernel, geometry.kernel},
                "weight");
  if (bias.defined()) require_shape("conv2d", bias, Shape{geometry.out_channels}, "bias");
  Tensor w_storage, b_storage;
  const float* w = as_f32(weight, w_storage);
  const float* b = bias.defined() ? as_f32(bias, b_storage) : nullptr;
  Conv2dWeights out;
  out.cpu_ = std::make_unique<cpu::PackedConv2d>(cpu::PackedConv2d::pack(w, b, geometry, 64, 64, precision));
  return out;
}

UnpackedWeights unpack_linear(const LinearWeights& w) {
  SDXL_CHECK(!w.empty(), InvalidArgument, "[linear] unpack of an empty layer");
  UnpackedWeights out{Tensor::empty(Shape{w.out_features(), w.in_features()}, DType::F32),
                      Tensor::empty(Shape{w.out_features()}, DType::F32)};
  if (!w.cpu_->unpack(out.weight.data<float>(), out.bias.data<float>())) out.bias = Tensor();
  return out;
}

UnpackedWeights unpack_linear(Arena& arena, const LinearWeights& w) {
  SDXL_CHECK(!w.empty(), InvalidArgument, "[linear] unpack of an empty layer");
  UnpackedWeights out{Tensor::in_arena(arena, Shape{w.out_features(), w.in_features()}, DType::F32),
                      Tensor::in_arena(arena, Shape{w.out_features()}, DType::F32)};
  if (!w.cpu_->unpack(out.weight.data<float>(), out.bias.data<float>())) out.bias = Tensor();
  return out;
}

UnpackedWeights unpack_conv2d(const Conv2dWeights& w) {
  SDXL_CHECK(!w.empty(), InvalidArgument, "[conv2d] unpack of an empty convolution");
  const Conv2dGeometry& g = w.geometry();
  UnpackedWeights out{Tensor::empty(Shape{g.out_channels, g.in_channels, g.kernel, g.kernel}, DType::F32),
                      Tensor::empty(Shape{g.out_channels}, DType::F32)};
  if (!w.cpu_->unpack(out.weight.data<float>(), out.bias.data<float>())) out.bias = Tensor();
  return out;
}

Tensor linear(Arena& arena, const Tensor& x, const LinearWeights& w) {
  const OpTimer timer(OpFamily::Linear);
  require_f32("linear", x, "input");
  SDXL_CHECK(x.rank() >= 1 && x.dim(-1) == w.in_features(), InvalidArgument, "[linear] input ",
             x.shape().to_string(), " does not end in ", w.in_features());
  Tensor y = Tensor::in_arena(arena, with_last(x.shape(), w.out_features()), DType::F32);
  w.cpu_->forward(x.data<float>(), x.numel() / w.in_features(), y.data<float>(), false);
  add_flops(2.0 * static_cast<double>(x.numel()) * static_cast<double>(w.out_features()));
  return y;
}

void linear_accumulate(const Tensor& x, const LinearWeights& w, Tensor& residual) {
  const OpTimer timer(OpFamily::Linear);
  require_f32("linear", x, "input");
  require_f32("linear", residual, "residual");
  require_shape("linear", residual, with_last(x.shape(), w.out_features()), "residual");
  SDXL_CHECK(x.dim(-1) == w.in_features(), InvalidArgument, "[linear] input ", x.shape().to_string(),
             " does not end in ", w.in_features());
  w.cpu_->forward(x.data<float>(), x.numel() / w.in_features(), residual.data<float>(), true);
  add_flops(2.0 * static_cast<double>(x.numel()) * static_cast<double>(w.out_features()));
}

Tensor conv2d(Arena& arena, const Tensor& x, const Conv2dWeights& w, const Tensor* residual) {
  const OpTimer timer(OpFamily::Convolution);
  require_f32("conv2d", x, "input");
  const auto& g = w.geometry();
  SDXL_CHECK(x.rank() == 4 && x.dim(3) == g.in_channels, InvalidArgument, "[conv2d] input ", x.shape().to_string(),
             " is not [N, H, W, ", g.in_channels, "]");
  Shape out_shape{x.dim(0), g.out_height(x.dim(1)), g.out_width(x.dim(2)), g.out_channels};
  Tensor y = Tensor::in_arena(arena, out_shape, DType::F32);
  if (residual) {
    require_f32("conv2d", *residual, "residual");
    require_shape("conv2d", *residual, out_shape, "residual");
    std::copy(residual->data<float>(), residual->data<float>() + residual->numel(), y.data<float>());
  }
  w.cpu_->forward(x.data<float>(), x.dim(0), x.dim(1), x.dim(2), y.data<float>(), residual != nullptr);
  add_flops(2.0 * static_cast<double>(y.numel()) * static_cast<double>(g.in_channels * g.kernel * g.kernel));
  return y;
}

void conv2d_accumulate(const Tensor& x, const Conv2dWeights& w, Tensor& out) {
  const OpTimer timer(OpFamily::Convolution);
  require_f32("conv2d", x, "input");
  require_f32("conv2d", out, "output");
  const auto& g = w.geometry();
  SDXL_CHECK(x.rank() == 4 && x.dim(3) == g.in_channels, InvalidArgument, "[conv2d] input ", x.shape().to_string(),
             " is not [N, H, W, ", g.in_channels, "]");
  require_shape("conv2d", out, Shape{x.dim(0), g.out_height(x.dim(1)), g.out_width(x.dim(2)), g.out_channels}, "output");
  w.cpu_->forward(x.data<float>(), x.dim(0), x.dim(1), x.dim(2), out.data<float>(), true);
  add_flops(2.0 * static_cast<double>(out.numel()) * static_cast<double>(g.in_channels * g.kernel * g.kernel));
}

Tensor group_norm(Arena& arena, const Tensor& x, int64_t groups, const Tensor& gamma, const Tensor& beta, float eps,
                  bool fuse_silu) {
  const OpTimer timer(OpFamily::Normalisation);
  require_f32("group_norm", x, "input");
  SDXL_CHECK(x.rank() >= 2, InvalidArgument, "[group_norm] input must be [N, ..., C]");
  const int64_t c = x.dim(-1);
  SDXL_CHECK(groups > 0 && c % groups == 0, InvalidArgument, "[group_norm] ", c, " channels do not split into ",
             groups, " groups");
  if (gamma.defined()) require_shape("group_norm", gamma, Shape{c}, "weight");
  if (beta.defined()) require_shape("group_norm", beta, Shape{c}, "bias");
  Tensor y = Tensor::in_arena(arena, x.shape(), DType::F32);
  const int64_t n = x.dim(0);
  cpu::group_norm_nhwc(x.data<float>(), y.data<float>(), n, x.numel() / (n * c), c, groups,
                       gamma.defined() ? gamma.data<float>() : nullptr, beta.defined() ? beta.data<float>() : nullptr,
                       eps, fuse_silu);
  return y;
}

namespace {
void check_group_norm_input(const char* op, const Tensor& x, int64_t groups) {
  require_f32(op, x, "input");
  SDXL_CHECK(x.rank() >= 2 && x.dim(0) == 1, InvalidArgument, "[", op, "] input must be one image [1, ..., C], got ",
             x.shape().to_string());
  SDXL_CHECK(groups > 0 && x.dim(-1) % groups == 0, InvalidArgument, "[", op, "] ", x.dim(-1),
             " channels do not split into ", groups, " groups");
}
}  // namespace

GroupStatistics group_norm_statistics(const Tensor& x, int64_t groups, float eps) {
  const OpTimer timer(OpFamily::Normalisation);
  check_group_norm_input("group_norm_statistics", x, groups);
  const int64_t c = x.dim(-1);
  GroupStatistics s{c, groups, std::vector<double>(groups), std::vector<double>(groups)};
  cpu::group_norm_statistics_nhwc(x.data<float>(), x.numel() / c, c, groups, eps, s.mean.data(), s.rstd.data());
  return s;
}

GroupStatisticsAccumulator::GroupStatisticsAccumulator(int64_t channels, int64_t groups)
    : channels_(channels), groups_(groups) {
  SDXL_CHECK(groups > 0 && channels % groups == 0, InvalidArgument, "[group_norm_statistics] ", channels,
             " channels do not split into ", groups, " groups");
  moments_ = std::make_unique<cpu::GroupMoments>(channels, groups);
}
GroupStatisticsAccumulator::~GroupStatisticsAccumulator() = default;
GroupStatisticsAccumulator::GroupStatisticsAccumulator(GroupStatisticsAccumulator&&) noexcept = default;

void GroupStatisticsAccumulator::add(const Tensor& band) {
  const OpTimer timer(OpFamily::Normalisation);
  check_group_norm_input("group_norm_statistics", band, groups_);
  SDXL_CHECK(band.dim(-1) == channels_, InvalidArgument, "[group_norm_statistics] band has ", band.dim(-1),
             " channels, the image ", channels_);
  moments_->add(band.data<float>(), band.numel() / channels_);
}

GroupStatistics GroupStatisticsAccumulator::finish(float eps) const {
  SDXL_CHECK(moments_->pixels() > 0, InvalidArgument, "[group_norm_statistics] no pixels were added");
  GroupStatistics s{channels_, groups_, std::vector<double>(groups_), std::vector<double>(groups_)};
  moments_->finish(eps, s.mean.data(), s.rstd.data());
  return s;
}

Tensor group_norm_apply(Arena& arena, const Tensor& x, const GroupStatistics& statistics, const Tensor& gamma,
                        const Tensor& beta, bool fuse_silu) {
  const OpTimer timer(OpFamily::Normalisation);
  check_group_norm_input("group_norm_apply", x, statistics.groups);
  const int64_t c = x.dim(-1);
  SDXL_CHECK(c == statistics.channels, InvalidArgument, "[group_norm_apply] input has ", c,
             " channels, the statistics ", statistics.channels);
  if (gamma.defined()) require_shape("group_norm_apply", gamma, Shape{c}, "weight");
  if (beta.defined()) require_shape("group_norm_apply", beta, Shape{c}, "bias");
  Tensor y = Tensor::in_arena(arena, x.shape(), DType::F32);
  cpu::group_norm_apply_nhwc(x.data<float>(), y.data<float>(), x.numel() / c, c, statistics.groups,
                             statistics.mean.data(), statistics.rstd.data(),
                             gamma.defined() ? gamma.data<float>() : nullptr,
                             beta.defined() ? beta.data<float>() : nullptr, fuse_silu);
  return y;
}

Tensor layer_norm(Arena& arena, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps) {
  const OpTimer timer(OpFamily::Normalisation);
  require_f32("layer_norm", x, "input");
  const int64_t c = x.dim(-1);
  if (gamma.defined()) require_shape("layer_norm", gamma, Shape{c}, "weight");
  if (beta.defined()) require_shape("layer_norm", beta, Shape{c}, "bias");
  Tensor y = Tensor::in_arena(arena, x.shape(), DType::F32);
  cpu::layer_norm(x.data<float>(), y.data<float>(), x.numel() / c, c, gamma.defined() ? gamma.data<float>() : nullptr,
                  beta.defined() ? beta.data<float>() : nullptr, eps);
  return y;
}

namespace {
void run_activation(const float* in, float* out, int64_t n, Activation activation) {
  switch (activation) {
    case Activation::Silu: cpu::silu(in, out, n); return;
    case Activation::GeluErf: cpu::gelu_erf(in, out, n); return;
    case Activation::GeluTanh: cpu::gelu_tanh(in, out, n); return;
    case Activation::QuickGelu: cpu::quick_gelu(in, out, n); return;
    case Activation::Relu: cpu::relu(in, out, n); return;
    case Activation::LeakyRelu: cpu::leaky_relu(in, out, n); return;
  }
}
}  // namespace

Tensor activate(Arena& arena, const Tensor& x, Activation activation) {
  const OpTimer timer(OpFamily::Activation);
  require_f32("activation", x, "input");
  Tensor y = Tensor::in_arena(arena, x.shape(), DType::F32);
  run_activation(x.data<float>(), y.data<float>(), x.numel(), activation);
  return y;
}

void activate_inplace(Tensor& x, Activation activation) {
  const OpTimer timer(OpFamily::Activation);
  require_f32("activation", x, "input");
  run_activation(x.data<float>(), x.data<float>(), x.numel(), activation);
}

Tensor geglu(Arena& arena, const Tensor& x) {
  const OpTimer timer(OpFamily::Activation);
  require_f32("geglu", x, "input");
  SDXL_CHECK(x.dim(-1) % 2 == 0, InvalidArgument, "[geglu] last axis ", x.dim(-1), " is odd");
  const int64_t f = x.dim(-1) / 2;
  Tensor y = Tensor::in_arena(arena, with_last(x.shape(), f), DType::F32);
  cpu::geglu(x.data<float>(), y.data<float>(), x.numel() / x.dim(-1), f);
  return y;
}

namespace {
// bf16 attention only where this CPU's bf16 dot products outrun its f32 FMAs: elsewhere the
// rounding would buy nothing (cpu/throughput.h).
Precision attention_precision(Precision requested) {
  return requested == Precision::BF16 && cpu::attention_flash_bf16_built() && cpu::bf16_attention_pays()
             ? Precision::BF16
             : Precision::F32;
}
}  // namespace

Tensor attention(Arena& arena, const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, bool causal,
                 Precision precision) {
  const OpTimer timer(OpFamily::Attention);
  require_f32("attention", q, "q");
  require_f32("attention", k, "k");
  require_f32("attention", v, "v");
  SDXL_CHECK(q.rank() == 3 && k.rank() == 3 && v.rank() == 3, InvalidArgument, "[attention] q, k, v must be [B, L, C]");
  SDXL_CHECK(k.shape() == v.shape() && q.dim(0) == k.dim(0) && q.dim(2) == k.dim(2), InvalidArgument,
             "[attention] q ", q.shape().to_string(), ", k ", k.shape().to_string(), ", v ", v.shape().to_string(),
             " do not match");
  SDXL_CHECK(heads > 0 && q.dim(2) % heads == 0, InvalidArgument, "[attention] ", q.dim(2),
             " channels do not split into ", heads, " heads");
  Tensor out = Tensor::in_arena(arena, q.shape(), DType::F32);
  cpu::AttentionShape s;
  s.batch = q.dim(0);
  s.heads = heads;
  s.q_len = q.dim(1);
  s.kv_len = k.dim(1);
  s.head_dim = q.dim(2) / heads;
  s.q_stride = s.k_stride = s.v_stride = s.out_stride = q.dim(2);
  s.causal = causal;
  s.precision = attention_precision(precision);
  cpu::attention(q.data<float>(), k.data<float>(), v.data<float>(), out.data<float>(), s);
  add_flops(4.0 * static_cast<double>(s.batch * s.q_len) * static_cast<double>(s.kv_len * s.head_dim * s.heads));
  return out;
}

Tensor attention_fused_qkv(Arena& arena, const Tensor& qkv, int64_t heads, bool causal, Precision precision) {
  const OpTimer timer(OpFamily::Attention);
  require_f32("attention", qkv, "qkv");
  SDXL_CHECK(qkv.rank() == 3 && qkv.dim(2) % 3 == 0, InvalidArgument, "[attention] qkv must be [B, L, 3C], got ",
             qkv.shape().to_string());
  const int64_t c = qkv.dim(2) / 3;
  SDXL_CHECK(heads > 0 && c % heads == 0, InvalidArgument, "[attention] ", c, " channels do not split into ", heads,
             " heads");
  Tensor out = Tensor::in_arena(arena, Shape{qkv.dim(0), qkv.dim(1), c}, DType::F32);
  cpu::AttentionShape s;
  s.batch = qkv.dim(0);
  s.heads = heads;
  s.q_len = s.kv_len = qkv.dim(1);
  s.head_dim = c / heads;
  s.q_stride = s.k_stride = s.v_stride = 3 * c;
  s.out_stride = c;
  s.causal = causal;
  s.precision = attention_precision(precision);
  const float* base = qkv.data<float>();
  cpu::attention(base, base + c, base + 2 * c, out.data<float>(), s);
  add_flops(4.0 * static_cast<double>(s.batch * s.q_len) * static_cast<double>(s.kv_len * s.head_dim * s.heads));
  return out;
}

Tensor attention_fused_kv(Arena& arena, const Tensor& q, const Tensor& kv, int64_t heads, Precision precision) {
  const OpTimer timer(OpFamily::Attention);
  require_f32("attention", q, "q");
  require_f32("attention", kv, "kv");
  SDXL_CHECK(q.rank() == 3 && kv.rank() == 3 && kv.dim(0) == q.dim(0) && kv.dim(2) == 2 * q.dim(2), InvalidArgument,
             "[attention] q ", q.shape().to_string(), " and kv ", kv.shape().to_string(), " do not match");
  const int64_t c = q.dim(2);
  SDXL_CHECK(heads > 0 && c % heads == 0, InvalidArgument, "[attention] ", c, " channels do not split into ", heads,
             " heads");
  Tensor out = Tensor::in_arena(arena, q.shape(), DType::F32);
  cpu::AttentionShape s;
  s.batch = q.dim(0);
  s.heads = heads;
  s.q_len = q.dim(1);
  s.kv_len = kv.dim(1);
  s.head_dim = c / heads;
  s.q_stride = s.out_stride = c;
  s.k_stride = s.v_stride = 2 * c;
  s.precision = attention_precision(precision);
  cpu::attention(q.data<float>(), kv.data<float>(), kv.data<float>() + c, out.data<float>(), s);
  add_flops(4.0 * static_cast<double>(s.batch * s.q_len) * static_cast<double>(s.kv_len * s.head_dim * s.heads));
  return out;
}

Tensor copy(Arena& arena, const Tensor& x) {
  const OpTimer timer(OpFamily::Elementwise);
  SDXL_CHECK(x.defined(), InvalidArgument, "[copy] input is undefined");
  Tensor y = Tensor::in_arena(arena, x.shape(), x.dtype());
  std::memcpy(y.raw(), x.raw(), x.nbytes());
  return y;
}

Tensor nchw_to_nhwc(Arena& arena, const Tensor& x) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("layout", x, "input");
  SDXL_CHECK(x.rank() == 4, InvalidArgument, "[layout] expected [N, C, H, W], got ", x.shape().to_string());
  Tensor y = Tensor::in_arena(arena, Shape{x.dim(0), x.dim(2), x.dim(3), x.dim(1)}, DType::F32);
  cpu::nchw_to_nhwc(x.data<float>(), y.data<float>(), x.dim(0), x.dim(1), x.dim(2) * x.dim(3));
  return y;
}

Tensor nhwc_to_nchw(Arena& arena, const Tensor& x) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("layout", x, "input");
  SDXL_CHECK(x.rank() == 4, InvalidArgument, "[layout] expected [N, H, W, C], got ", x.shape().to_string());
  Tensor y = Tensor::in_arena(arena, Shape{x.dim(0), x.dim(3), x.dim(1), x.dim(2)}, DType::F32);
  cpu::nhwc_to_nchw(x.data<float>(), y.data<float>(), x.dim(0), x.dim(3), x.dim(1) * x.dim(2));
  return y;
}

Tensor gather_rows(Arena& arena, const Tensor& table, const int32_t* ids, int64_t count) {
  const OpTimer timer(OpFamily::Elementwise);
  SDXL_CHECK(table.rank() == 2 && dtype_is_float(table.dtype()), InvalidArgument,
             "[gather] table must be a float [rows, C] tensor, got ", table.shape().to_string());
  const int64_t rows = table.dim(0), c = table.dim(1);
  Tensor y = Tensor::in_arena(arena, Shape{count, c}, DType::F32);
  const size_t row_bytes = static_cast<size_t>(c) * dtype_size(table.dtype());
  for (int64_t i = 0; i < count; ++i) {
    SDXL_CHECK(ids[i] >= 0 && ids[i] < rows, InvalidArgument, "[gather] id ", ids[i], " is outside the table of ",
               rows, " rows");
    const auto* src = static_cast<const uint8_t*>(table.raw()) + static_cast<size_t>(ids[i]) * row_bytes;
    convert_to_f32(src, table.dtype(), y.data<float>() + i * c, static_cast<size_t>(c));
  }
  return y;
}

Tensor upsample_nearest2x(Arena& arena, const Tensor& x) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("upsample", x, "input");
  SDXL_CHECK(x.rank() == 4, InvalidArgument, "[upsample] input must be [N, H, W, C], got ", x.shape().to_string());
  Tensor y = Tensor::in_arena(arena, Shape{x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)}, DType::F32);
  cpu::upsample_nearest2x_nhwc(x.data<float>(), y.data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
  return y;
}

Tensor resize_nearest(Arena& arena, const Tensor& x, int64_t out_height, int64_t out_width) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("resize", x, "input");
  SDXL_CHECK(x.rank() == 4 && out_height > 0 && out_width > 0, InvalidArgument, "[resize] input must be [N, H, W, C]");
  if (out_height == 2 * x.dim(1) && out_width == 2 * x.dim(2)) return upsample_nearest2x(arena, x);
  Tensor y = Tensor::in_arena(arena, Shape{x.dim(0), out_height, out_width, x.dim(3)}, DType::F32);
  cpu::resize_nearest_nhwc(x.data<float>(), y.data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), out_height,
                           out_width);
  return y;
}

Tensor interpolate(Arena& arena, const Tensor& x, int64_t out_height, int64_t out_width, Interpolation mode,
                   bool antialias) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("interpolate", x, "input");
  SDXL_CHECK(x.rank() == 4 && x.dim(2) > 0 && x.dim(3) > 0 && out_height > 0 && out_width > 0, InvalidArgument,
             "[interpolate] input must be [N, C, H, W] and the size positive, got ", x.shape().to_string(), " to ",
             out_width, "x", out_height);
  SDXL_CHECK(!antialias || mode == Interpolation::Bilinear || mode == Interpolation::Bicubic, InvalidArgument,
             "[interpolate] antialias applies to bilinear and bicubic only");
  Tensor y = Tensor::in_arena(arena, Shape{x.dim(0), x.dim(1), out_height, out_width}, DType::F32);
  const cpu::InterpolateMode kernel = mode == Interpolation::Nearest        ? cpu::InterpolateMode::Nearest
                                      : mode == Interpolation::NearestExact ? cpu::InterpolateMode::NearestExact
                                      : mode == Interpolation::Bilinear     ? cpu::InterpolateMode::Bilinear
                                                                            : cpu::InterpolateMode::Bicubic;
  cpu::interpolate_planes(x.data<float>(), y.data<float>(), x.dim(0) * x.dim(1), x.dim(2), x.dim(3), out_height, out_width,
                          kernel, antialias);
  return y;
}

Tensor pixel_unshuffle(Arena& arena, const Tensor& x, int64_t factor) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("pixel_unshuffle", x, "input");
  SDXL_CHECK(x.rank() == 4 && factor > 0 && x.dim(1) % factor == 0 && x.dim(2) % factor == 0, InvalidArgument,
             "[pixel_unshuffle] input must be [N, H, W, C] with H and W multiples of ", factor, ", got ",
             x.shape().to_string());
  Tensor y = Tensor::in_arena(arena, Shape{x.dim(0), x.dim(1) / factor, x.dim(2) / factor, x.dim(3) * factor * factor},
                              DType::F32);
  cpu::pixel_unshuffle_nhwc(x.data<float>(), y.data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), factor);
  return y;
}

Tensor avg_pool2x2_ceil(Arena& arena, const Tensor& x) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("avg_pool", x, "input");
  SDXL_CHECK(x.rank() == 4, InvalidArgument, "[avg_pool] input must be [N, H, W, C], got ", x.shape().to_string());
  Tensor y = Tensor::in_arena(arena, Shape{x.dim(0), (x.dim(1) + 1) / 2, (x.dim(2) + 1) / 2, x.dim(3)}, DType::F32);
  cpu::avg_pool2x2_ceil_nhwc(x.data<float>(), y.data<float>(), x.dim(0), x.dim(1), x.dim(2), x.dim(3));
  return y;
}

Tensor add(Arena& arena, const Tensor& a, const Tensor& b) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("add", a, "a");
  require_f32("add", b, "b");
  require_shape("add", b, a.shape(), "b");
  Tensor y = Tensor::in_arena(arena, a.shape(), DType::F32);
  cpu::add(a.data<float>(), b.data<float>(), y.data<float>(), a.numel());
  return y;
}

void add_inplace(Tensor& a, const Tensor& b) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("add", a, "a");
  require_f32("add", b, "b");
  require_shape("add", b, a.shape(), "b");
  cpu::add(a.data<float>(), b.data<float>(), a.data<float>(), a.numel());
}

void matmul_accumulate(const Tensor& a, const Tensor& b, float alpha, Tensor& c) {
  const OpTimer timer(OpFamily::Linear);
  require_f32("matmul", a, "a");
  require_f32("matmul", b, "b");
  require_f32("matmul", c, "c");
  SDXL_CHECK(a.rank() == 2 && b.rank() == 2 && c.rank() == 2 && a.dim(1) == b.dim(0) && c.dim(0) == a.dim(0) &&
                 c.dim(1) == b.dim(1),
             InvalidArgument, "[matmul] shapes ", a.shape().to_string(), " x ", b.shape().to_string(), " -> ",
             c.shape().to_string(), " do not chain");
  const int64_t m = a.dim(0), k = a.dim(1), n = b.dim(1);
  if (m == 0 || n == 0 || k == 0) return;
  cpu::gemm_accumulate(m, n, k, a.data<float>(), b.data<float>(), c.data<float>(), alpha);
}

namespace {
void check_broadcast(const Tensor& a, const Tensor& b) {
  require_f32("add_broadcast", a, "a");
  require_f32("add_broadcast", b, "b");
  SDXL_CHECK(a.rank() >= 2, InvalidArgument, "[add_broadcast] a must be [N, ..., C]");
  require_shape("add_broadcast", b, Shape{a.dim(0), a.dim(-1)}, "b");
}
}  // namespace

void add_broadcast_inplace(Tensor& a, const Tensor& b) {
  const OpTimer timer(OpFamily::Elementwise);
  check_broadcast(a, b);
  const int64_t n = a.dim(0), c = a.dim(-1);
  cpu::add_broadcast(a.data<float>(), b.data<float>(), a.data<float>(), n, a.numel() / (n * c), c);
}

Tensor concat_channels(Arena& arena, const Tensor& a, const Tensor& b) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("concat", a, "a");
  require_f32("concat", b, "b");
  SDXL_CHECK(a.rank() == b.rank() && a.numel() / a.dim(-1) == b.numel() / b.dim(-1), InvalidArgument, "[concat] ",
             a.shape().to_string(), " and ", b.shape().to_string(), " differ outside the last axis");
  Tensor y = Tensor::in_arena(arena, with_last(a.shape(), a.dim(-1) + b.dim(-1)), DType::F32);
  cpu::concat_last(a.data<float>(), a.dim(-1), b.data<float>(), b.dim(-1), y.data<float>(), a.numel() / a.dim(-1));
  return y;
}

Tensor concat_tokens(Arena& arena, const Tensor& a, const Tensor& b) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("concat", a, "a");
  require_f32("concat", b, "b");
  SDXL_CHECK(a.rank() == 3 && b.rank() == 3 && a.dim(0) == b.dim(0) && a.dim(2) == b.dim(2), InvalidArgument, "[concat] ",
             a.shape().to_string(), " and ", b.shape().to_string(), " are not [B, L, D] with the same B and D");
  Tensor y = Tensor::in_arena(arena, Shape{a.dim(0), a.dim(1) + b.dim(1), a.dim(2)}, DType::F32);
  cpu::concat_last(a.data<float>(), a.dim(1) * a.dim(2), b.data<float>(), b.dim(1) * b.dim(2), y.data<float>(), a.dim(0));
  return y;
}

void add_to_each_inplace(Tensor& x, const Tensor& t) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("add_to_each", x, "x");
  require_f32("add_to_each", t, "t");
  SDXL_CHECK(x.rank() == t.rank() + 1 && x.numel() == x.dim(0) * t.numel(), InvalidArgument, "[add_to_each] ",
             t.shape().to_string(), " is not one item of ", x.shape().to_string());
  for (int axis = 0; axis < t.rank(); ++axis)
    SDXL_CHECK(t.dim(axis) == x.dim(axis + 1), InvalidArgument, "[add_to_each] ", t.shape().to_string(),
               " is not one item of ", x.shape().to_string());
  cpu::add_broadcast(x.data<float>(), t.data<float>(), x.data<float>(), 1, x.dim(0), t.numel());
}

void copy_into(const Tensor& src, Tensor& dst) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("copy_into", src, "src");
  require_f32("copy_into", dst, "dst");
  SDXL_CHECK(src.numel() == dst.numel(), InvalidArgument, "[copy_into] ", src.shape().to_string(), " into ",
             dst.shape().to_string());
  cpu::copy_rows(src.data<float>(), src.numel(), dst.data<float>(), dst.numel(), 1, src.numel());
}

void write_rows(Tensor& x, int64_t first, const Tensor& rows) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("write_rows", x, "x");
  require_f32("write_rows", rows, "rows");
  SDXL_CHECK(x.rank() >= 1 && rows.rank() == x.rank() && first >= 0 && first + rows.dim(0) <= x.dim(0) &&
                 rows.numel() == rows.dim(0) * (x.numel() / std::max<int64_t>(1, x.dim(0))),
             InvalidArgument, "[write_rows] ", rows.shape().to_string(), " at row ", first, " does not fit in ",
             x.shape().to_string());
  const int64_t width = rows.dim(0) > 0 ? rows.numel() / rows.dim(0) : 0;
  cpu::copy_rows(rows.data<float>(), width, x.data<float>() + first * width, width, rows.dim(0), width);
}

void write_band(Tensor& image, int64_t n, int64_t first_row, const Tensor& band) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("write_band", image, "image");
  require_f32("write_band", band, "band");
  SDXL_CHECK(image.rank() == 4 && band.rank() == 3 && band.dim(0) == image.dim(1) && band.dim(2) == image.dim(3) &&
                 n >= 0 && n < image.dim(0) && first_row >= 0 && first_row + band.dim(1) <= image.dim(2),
             InvalidArgument, "[write_band] band ", band.shape().to_string(), " at item ", n, ", row ", first_row,
             " does not fit in ", image.shape().to_string());
  const int64_t channels = image.dim(1), height = image.dim(2), width = image.dim(3), rows = band.dim(1);
  for (int64_t c = 0; c < channels; ++c)
    cpu::copy_rows(band.data<float>() + c * rows * width, width,
                   image.data<float>() + ((n * channels + c) * height + first_row) * width, width, rows, width);
}

Tensor timestep_embedding(Arena& arena, const Tensor& values, int64_t dim, bool flip_sin_to_cos, float freq_shift) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("timestep_embedding", values, "values");
  SDXL_CHECK(values.rank() == 1 && dim > 0, InvalidArgument, "[timestep_embedding] values must be [n], got ",
             values.shape().to_string());
  Tensor y = Tensor::in_arena(arena, Shape{values.dim(0), dim}, DType::F32);
  cpu::timestep_embedding(values.data<float>(), values.dim(0), dim, flip_sin_to_cos, freq_shift, y.data<float>());
  return y;
}

Tensor full(Arena& arena, const Shape& shape, float value) {
  Tensor y = Tensor::in_arena(arena, shape, DType::F32);
  cpu::fill(y.data<float>(), value, y.numel());
  return y;
}

void scale_shift(const Tensor& x, float scale, float shift, Tensor& out) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("scale_shift", x, "x");
  require_f32("scale_shift", out, "out");
  require_shape("scale_shift", out, x.shape(), "out");
  cpu::scale_shift(x.data<float>(), scale, shift, out.data<float>(), x.numel());
}

void soft_clamp_inplace(Tensor& x, float limit) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("soft_clamp", x, "x");
  SDXL_CHECK(limit > 0, InvalidArgument, "[soft_clamp] limit must be positive, got ", limit);
  cpu::soft_clamp(x.data<float>(), limit, x.data<float>(), x.numel());
}

void diagonal_gaussian(const Tensor& moments, Tensor& mean, Tensor& logvar, Tensor& std) {
  const OpTimer timer(OpFamily::Elementwise);
  require_f32("diagonal_gaussian", moments, "moments");
  SDXL_CHECK(moments.rank() >= 2 && moments.dim(1) % 2 == 0, InvalidArgument,
             "[diagonal_gaussian] moments must be [N, 2C, ...], got ", moments.shape().to_string());
  Shape half = moments.shape();
  half[1] = moments.dim(1) / 2;
  for (Tensor* t : {&mean, &logvar, &std}) {
    require_f32("diagonal_gaussian", *t, "output");
    require_shape("diagonal_gaussian", *t, half, "output");
  }
  const int64_t batch = moments.dim(0);
  cpu::diagonal_gaussian(moments.data<float>(), batch, half.numel() / std::max<int64_t>(1, batch), mean.data<float>(),
                         logvar.data<float>(), std.data<float>());
}

std::string backend_facts() { return cpu::backend_facts(); }
void release_scratch() { cpu::release_scratch(); }

double flop_count() { return g_flops.load(); }
void reset_flop_count() { g_flops = 0.0; }

void set_profiling(bool enabled) { g_profiling = enabled; }
void reset_profile() { g_profile = {}; }
std::array<FamilyProfile, kOpFamilies> profile() { return g_profile; }

const char* op_family_name(OpFamily family) {
  switch (family) {
    case OpFamily::Linear: return "linear";
    case OpFamily::Convolution: return "convolution";
    case OpFamily::Attention: return "attention";
    case OpFamily::Normalisation: return "normalisation";
    case OpFamily::Activation: return "activation";
    case OpFamily::Elementwise: return "element-wise and layout";
  }
  return "?";
}

}  // namespace sdxl::ops

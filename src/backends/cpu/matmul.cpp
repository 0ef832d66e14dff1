#include "backends/cpu/matmul.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "backends/cpu/dnnl_context.h"
#include "backends/cpu/packed_memory.h"
#include "backends/cpu/scratch.h"
#include "core/convert.h"
#include "core/error.h"
#include "core/parallel.h"

namespace sdxl::cpu {

using dnnl::memory;

const char* gemm_library_name(GemmLibrary library) {
  return library == GemmLibrary::OpenBlas ? "openblas" : "onednn";
}

GemmLibrary choose_gemm_library(int64_t m, int64_t n, int64_t k) {
  if (const char* forced = std::getenv("SDXL_GEMM")) {
    std::string value = forced;
    if (value == "openblas") return GemmLibrary::OpenBlas;
    if (value == "onednn") return GemmLibrary::OneDnn;
  }
  // bench/kernel_bench.cpp on the SDXL linear shapes (2-core AVX-512, see docs/PERFORMANCE.md):
  // oneDNN 2.6's matmul with weights pre-packed into its blocked layout reached 209-219 GFLOP/s
  // against OpenBLAS's 161-203 on every UNet and text-encoder shape, the small-M cross-attention
  // projections most of all; OpenBLAS is not ahead anywhere measured, so f32 layers use oneDNN.
  (void)m;
  (void)n;
  (void)k;
  return GemmLibrary::OneDnn;
}

void sgemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           bool transpose_b, float* c, int64_t ldc, float alpha, float beta) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

void gemm_accumulate(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c, float alpha) {
  memory::desc a_desc({m, k}, memory::data_type::f32, memory::format_tag::ab);
  memory::desc b_desc({k, n}, memory::data_type::f32, memory::format_tag::ab);
  memory::desc c_desc({m, n}, memory::data_type::f32, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  attr.set_output_scales(0, {alpha});
  dnnl::post_ops sum;
  sum.append_sum(1.0f);
  attr.set_post_ops(sum);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_desc, b_desc, c_desc), attr, dnnl_engine());
  memory a_mem(a_desc, dnnl_engine(), const_cast<float*>(a));
  memory b_mem(b_desc, dnnl_engine(), const_cast<float*>(b));
  memory c_mem(c_desc, dnnl_engine(), c);
  dnnl::matmul(pd).execute(dnnl_stream(), {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, b_mem}, {DNNL_ARG_DST, c_mem}});
  dnnl_stream().wait();
}

void batched_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, int64_t stride_a,
                    const float* b, int64_t ldb, int64_t stride_b, bool transpose_b, float* c, int64_t ldc,
                    int64_t stride_c, float alpha, float beta) {
  // With at least as many batches as threads, one GEMM per thread avoids the per-call
  // synchronisation of a threaded GEMM (OpenBLAS runs single-threaded inside a parallel region).
  if (batch >= omp_get_max_threads() && batch > 1) {
#pragma omp parallel for schedule(dynamic)
    for (int64_t i = 0; i < batch; ++i)
      sgemm(m, n, k, a + i * stride_a, lda, b + i * stride_b, ldb, transpose_b, c + i * stride_c, ldc, alpha, beta);
  } else {
    for (int64_t i = 0; i < batch; ++i)
      sgemm(m, n, k, a + i * stride_a, lda, b + i * stride_b, ldb, transpose_b, c + i * stride_c, ldc, alpha, beta);
  }
}

// oneDNN matmul state: weights reordered once into the layout the primitive prefers, and one
// primitive per (rows, accumulate) seen, since oneDNN primitives are shape-specialised.
struct PackedLinear::OneDnnState {
  memory::desc weight_desc;
  memory weights;
  std::shared_ptr<void> weight_memory;  // what `weights` points into (packed_memory.h)
  bool writable = false;                // our own memory, not a mapped cache entry
  memory bias;
  // Memory objects are kept with their primitive and re-pointed per call, and the scratchpad
  // is ours (one buffer shared by all primitives), so a call at a cached shape allocates nothing.
  struct Entry {
    int64_t rows;
    bool accumulate;
    dnnl::matmul primitive;
    memory src, dst, scratchpad;  // scratchpad: re-pointed at the shared buffer per call
    size_t scratchpad_bytes;
    // C-API argument list, built once: the C++ execute() builds a hash map on every call.
    dnnl_exec_arg_t args[5];
  };
  std::vector<Entry> cache;

  memory::data_type input_type = memory::data_type::f32;  // src and weights

  // A cached primitive with its own memory objects and its argument list, pointed at this
  // layer's weights and bias.
  Entry& add_entry(int64_t rows, bool accumulate, const dnnl::matmul& primitive, const memory::desc& src_desc,
                   const memory::desc& dst_desc, const memory::desc& scratchpad_desc) {
    cache.push_back({rows, accumulate, primitive, memory(src_desc, dnnl_engine(), nullptr),
                     memory(dst_desc, dnnl_engine(), nullptr), memory(scratchpad_desc, dnnl_engine(), nullptr),
                     scratchpad_desc.get_size(), {}});
    Entry& entry = cache.back();
    entry.args[0] = {DNNL_ARG_SRC, entry.src.get()};
    entry.args[1] = {DNNL_ARG_WEIGHTS, weights.get()};
    entry.args[2] = {DNNL_ARG_BIAS, bias.get()};
    entry.args[3] = {DNNL_ARG_DST, entry.dst.get()};
    entry.args[4] = {DNNL_ARG_SCRATCHPAD, entry.scratchpad.get()};
    return entry;
  }
  // W [N, K] (row-major, f32) reordered into `weights`, and the bias (zeros without one).
  void write_values(const float* weight, const float* bias_values, int64_t n, int64_t k) {
    // Our W [N, K] row-major is oneDNN's [K, N] weights in "ba" order.
    memory::desc plain({k, n}, memory::data_type::f32, memory::format_tag::ba);
    memory source(plain, dnnl_engine(), const_cast<float*>(weight));
    dnnl::reorder(source, weights).execute(dnnl_stream(), source, weights);
    float* bias_data = static_cast<float*>(bias.get_data_handle());
    for (int64_t i = 0; i < n; ++i) bias_data[i] = bias_values ? bias_values[i] : 0.0f;
    dnnl_stream().wait();
  }

  // A state for [N, K] weights in `precision`, with the blocked layout oneDNN's primitive for
  // `typical_rows` rows prefers (its weights not yet anywhere).
  static std::unique_ptr<OneDnnState> laid_out(int64_t n, int64_t k, MatmulPrecision precision, int64_t typical_rows) {
    auto state = std::make_unique<OneDnnState>();
    if (precision == MatmulPrecision::BF16) state->input_type = memory::data_type::bf16;
    memory::desc any_weights({k, n}, state->input_type, memory::format_tag::any);
    state->weight_desc = state->make_pd(typical_rows, n, k, any_weights, false).weights_desc();
    return state;
  }

  dnnl::matmul::primitive_desc make_pd(int64_t rows, int64_t n, int64_t k, const memory::desc& wdesc,
                                       bool accumulate) const {
    memory::desc src({rows, k}, input_type, memory::format_tag::ab);
    memory::desc bias_desc({1, n}, memory::data_type::f32, memory::format_tag::ab);
    memory::desc dst({rows, n}, memory::data_type::f32, memory::format_tag::ab);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    dnnl::matmul::desc desc(src, wdesc, bias_desc, dst);
    return dnnl::matmul::primitive_desc(desc, attr, dnnl_engine());
  }
};

PackedLinear::PackedLinear() = default;
PackedLinear::~PackedLinear() = default;
PackedLinear::PackedLinear(PackedLinear&&) noexcept = default;
PackedLinear& PackedLinear::operator=(PackedLinear&&) noexcept = default;

PackedLinear PackedLinear::borrow(const float* weight, const float* bias, int64_t out_features, int64_t in_features) {
  PackedLinear layer = described(out_features, in_features, GemmLibrary::OpenBlas, MatmulPrecision::F32, bias != nullptr);
  layer.weight_ = weight;
  layer.bias_ = bias;
  return layer;
}

PackedLinear PackedLinear::pack(const float* weight, const float* bias, int64_t out_features, int64_t in_features,
                                GemmLibrary library, int64_t typical_rows, MatmulPrecision precision) {
  if (precision == MatmulPrecision::BF16) library = GemmLibrary::OneDnn;  // OpenBLAS has no bf16 GEMM here
  SDXL_CHECK(out_features > 0 && in_features > 0, InvalidArgument, "[linear] empty weight [", out_features, ", ",
             in_features, "]");
  PackedLinear layer = described(out_features, in_features, library, precision, bias != nullptr);
  const size_t count = static_cast<size_t>(out_features * in_features);
  if (library == GemmLibrary::OpenBlas) {
    layer.owned_weight_.assign(weight, weight + count);
    layer.weight_ = layer.owned_weight_.data();
    if (bias) {
      layer.owned_bias_.assign(bias, bias + out_features);
      layer.bias_ = layer.owned_bias_.data();
    }
    return layer;
  }
  auto state = OneDnnState::laid_out(out_features, in_features, precision, typical_rows);
  state->weights = packed_memory(state->weight_desc, state->weight_memory);
  state->writable = true;
  memory::desc bias_desc({1, out_features}, memory::data_type::f32, memory::format_tag::ab);
  state->bias = memory(bias_desc, dnnl_engine());
  state->write_values(weight, bias, out_features, in_features);
  layer.onednn_ = std::move(state);
  return layer;
}

PackedLinear PackedLinear::described(int64_t out_features, int64_t in_features, GemmLibrary library,
                                     MatmulPrecision precision, bool has_bias) {
  PackedLinear layer;
  layer.out_features_ = out_features;
  layer.in_features_ = in_features;
  layer.library_ = library;
  layer.precision_ = precision;
  layer.has_bias_ = has_bias;
  return layer;
}

PackedLinear PackedLinear::shaped_like(bool has_bias) const {
  PackedLinear layer = described(out_features_, in_features_, library_, precision_, has_bias);
  if (!onednn_) {  // OpenBLAS: plain rows of its own
    layer.owned_weight_.resize(static_cast<size_t>(out_features_ * in_features_));
    layer.weight_ = layer.owned_weight_.data();
    if (has_bias) {
      layer.owned_bias_.resize(static_cast<size_t>(out_features_));
      layer.bias_ = layer.owned_bias_.data();
    }
    return layer;
  }
  const OneDnnState& from = *onednn_;
  auto state = std::make_unique<OneDnnState>();
  state->input_type = from.input_type;
  state->weight_desc = from.weight_desc;
  state->weights = packed_memory(state->weight_desc, state->weight_memory);
  state->writable = true;
  state->bias = memory(from.bias.get_desc(), dnnl_engine());
  // The primitives are shared; each entry gets its own memory objects, pointed at this layer's weights.
  for (const OneDnnState::Entry& e : from.cache) {
    state->add_entry(e.rows, e.accumulate, e.primitive, e.src.get_desc(), e.dst.get_desc(), e.scratchpad.get_desc());
  }
  layer.onednn_ = std::move(state);
  return layer;
}

PackedLinear PackedLinear::repacked(const float* weight, const float* bias) const {
  SDXL_CHECK(!empty(), Internal, "[linear] repack of an empty layer");
  if (library_ == GemmLibrary::OpenBlas || !onednn_)
    return pack(weight, bias, out_features_, in_features_, library_, 4096, precision_);
  PackedLinear layer = shaped_like(bias != nullptr);
  layer.onednn_->write_values(weight, bias, out_features_, in_features_);
  return layer;
}

PackedLinear PackedLinear::plus(const float* weight_delta, const float* bias_delta) const {
  SDXL_CHECK(!empty(), Internal, "[linear] change of an empty layer");
  PackedLinear layer = shaped_like(has_bias_ || bias_delta != nullptr);
  const bool written = layer.assign_plus(*this, weight_delta, bias_delta);
  SDXL_CHECK(written, Internal, "[linear] a layer shaped like another cannot hold its sum");
  return layer;
}

bool PackedLinear::assign_plus(const PackedLinear& base, const float* weight_delta, const float* bias_delta) {
  SDXL_CHECK(!base.empty(), Internal, "[linear] change of an empty layer");
  const bool sum_has_bias = base.has_bias_ || bias_delta != nullptr;
  if (empty() || out_features_ != base.out_features_ || in_features_ != base.in_features_ ||
      library_ != base.library_ || precision_ != base.precision_ || has_bias_ != sum_has_bias ||
      (onednn_ == nullptr) != (base.onednn_ == nullptr))
    return false;
  if (onednn_) {
    if (!onednn_->writable || onednn_->weight_desc != base.onednn_->weight_desc) return false;
    write_sum(base, weight_delta, bias_delta);
    return true;
  }
  // OpenBLAS: the plain rows this layer owns (not borrowed ones).
  const int64_t n = out_features_, k = in_features_;
  if (owned_weight_.size() != static_cast<size_t>(n * k) || weight_ != owned_weight_.data()) return false;
  if (has_bias_ && (owned_bias_.size() != static_cast<size_t>(n) || bias_ != owned_bias_.data())) return false;
  for (int64_t i = 0; i < n * k; ++i) owned_weight_[static_cast<size_t>(i)] = base.weight_[i] + weight_delta[i];
  if (has_bias_)
    for (int64_t i = 0; i < n; ++i)
      owned_bias_[static_cast<size_t>(i)] = (base.bias_ ? base.bias_[i] : 0.0f) + (bias_delta ? bias_delta[i] : 0.0f);
  return true;
}

void PackedLinear::write_sum(const PackedLinear& base, const float* weight_delta, const float* bias_delta) {
  const int64_t n = out_features_, k = in_features_;
  OneDnnState& state = *onednn_;
  // The base's packed values, then the change reordered into them with a sum: the packed
  // values are never unpacked (for bf16 the sum is made in f32 and rounded once, as unpacking,
  // adding and packing again would).
  parallel_copy(state.weights.get_data_handle(), base.onednn_->weights.get_data_handle(),
                state.weight_desc.get_size());
  memory::desc plain({k, n}, memory::data_type::f32, memory::format_tag::ba);
  memory source(plain, dnnl_engine(), const_cast<float*>(weight_delta));
  dnnl::primitive_attr add;
  dnnl::post_ops sum;
  sum.append_sum(1.0f);
  add.set_post_ops(sum);
  const dnnl::reorder::primitive_desc pd(source, state.weights, add);
  dnnl::reorder(pd).execute(dnnl_stream(), source, state.weights);
  const float* old_bias = static_cast<const float*>(base.onednn_->bias.get_data_handle());
  float* bias_data = static_cast<float*>(state.bias.get_data_handle());
  for (int64_t i = 0; i < n; ++i) bias_data[i] = old_bias[i] + (bias_delta ? bias_delta[i] : 0.0f);
  dnnl_stream().wait();
}

namespace {

// What pack() makes of a shape: its library, arithmetic, shape, bias and (oneDNN) blocking.
std::string linear_layout(GemmLibrary library, MatmulPrecision precision, int64_t n, int64_t k, bool has_bias,
                          const memory::desc* blocking) {
  std::string layout = std::string("linear ") + gemm_library_name(library) +
                       (precision == MatmulPrecision::BF16 ? " bf16 " : " f32 ") + std::to_string(n) + "x" +
                       std::to_string(k) + (has_bias ? " bias" : " no-bias");
  if (blocking) layout += " " + describe_layout(*blocking);
  return layout;
}

}  // namespace

PackedImage PackedLinear::image() const {
  SDXL_CHECK(!empty(), Internal, "[linear] image of an empty layer");
  const int64_t n = out_features_, k = in_features_;
  PackedImage image;
  if (library_ == GemmLibrary::OpenBlas) {
    image.layout = linear_layout(library_, precision_, n, k, has_bias_, nullptr);
    image.parts.push_back({weight_, static_cast<size_t>(n * k) * sizeof(float)});
    if (has_bias_) image.parts.push_back({bias_, static_cast<size_t>(n) * sizeof(float)});
    return image;
  }
  image.layout = linear_layout(library_, precision_, n, k, has_bias_, &onednn_->weight_desc);
  image.parts.push_back({onednn_->weights.get_data_handle(), onednn_->weight_desc.get_size()});
  image.parts.push_back({onednn_->bias.get_data_handle(), static_cast<size_t>(n) * sizeof(float)});
  return image;
}

std::optional<PackedLinear> PackedLinear::from_image(const PackedImage& image, int64_t out_features,
                                                     int64_t in_features, bool has_bias, MatmulPrecision precision,
                                                     int64_t typical_rows) {
  const int64_t n = out_features, k = in_features;
  if (n <= 0 || k <= 0) return std::nullopt;
  const GemmLibrary library =
      precision == MatmulPrecision::BF16 ? GemmLibrary::OneDnn : choose_gemm_library(typical_rows, n, k);
  PackedLinear layer = described(n, k, library, precision, has_bias);
  const size_t bias_bytes = static_cast<size_t>(n) * sizeof(float);
  if (library == GemmLibrary::OpenBlas) {
    if (image.layout != linear_layout(library, precision, n, k, has_bias, nullptr) ||
        image.parts.size() != (has_bias ? 2u : 1u) || image.parts[0].bytes != static_cast<size_t>(n * k) * sizeof(float) ||
        (has_bias && image.parts[1].bytes != bias_bytes))
      return std::nullopt;
    layer.weight_ = static_cast<const float*>(image.parts[0].data);
    layer.bias_ = has_bias ? static_cast<const float*>(image.parts[1].data) : nullptr;
    layer.borrowed_owner_ = image.owner;
    return layer;
  }
  auto state = OneDnnState::laid_out(n, k, precision, typical_rows);
  if (image.layout != linear_layout(library, precision, n, k, has_bias, &state->weight_desc) ||
      image.parts.size() != 2 || image.parts[0].bytes != state->weight_desc.get_size() ||
      image.parts[1].bytes != bias_bytes)
    return std::nullopt;
  state->weights = borrowed_memory(state->weight_desc, image.parts[0].data, image.owner, state->weight_memory);
  memory::desc bias_desc({1, n}, memory::data_type::f32, memory::format_tag::ab);
  state->bias = memory(bias_desc, dnnl_engine(), const_cast<void*>(image.parts[1].data));
  layer.onednn_ = std::move(state);
  return layer;
}

bool PackedLinear::unpack(float* weight, float* bias) const {
  SDXL_CHECK(!empty(), Internal, "[linear] unpack of an empty layer");
  const int64_t n = out_features_, k = in_features_;
  if (library_ == GemmLibrary::OpenBlas) {
    std::copy(weight_, weight_ + n * k, weight);
    if (has_bias_) std::copy(bias_, bias_ + n, bias);
    return has_bias_;
  }
  // The packing reorder, backwards: oneDNN's blocked [K, N] (f32 or bf16) into our [N, K] f32.
  memory::desc plain({k, n}, memory::data_type::f32, memory::format_tag::ba);
  memory target(plain, dnnl_engine(), weight);
  dnnl::reorder(onednn_->weights, target).execute(dnnl_stream(), onednn_->weights, target);
  dnnl_stream().wait();
  if (has_bias_) {
    const float* b = static_cast<const float*>(onednn_->bias.get_data_handle());
    std::copy(b, b + n, bias);
  }
  return has_bias_;
}

void PackedLinear::forward(const float* x, int64_t rows, float* y, bool accumulate) const {
  SDXL_CHECK(!empty(), Internal, "[linear] forward on an unpacked layer");
  if (rows == 0) return;
  const int64_t n = out_features_, k = in_features_;
  if (library_ == GemmLibrary::OpenBlas) {
    float beta = 0.0f;
    if (bias_) {
      // Start from the bias (or add it to the residual) and let the GEMM accumulate onto it.
      parallel_for(rows, rows * n >= (1 << 15), [&](int64_t r) {
        float* row = y + r * n;
        if (accumulate) {
#pragma omp simd
          for (int64_t j = 0; j < n; ++j) row[j] += bias_[j];
        } else {
          std::memcpy(row, bias_, static_cast<size_t>(n) * sizeof(float));
        }
      });
      beta = 1.0f;
    } else if (accumulate) {
      beta = 1.0f;
    }
    sgemm(rows, n, k, x, k, weight_, k, true, y, n, 1.0f, beta);
    return;
  }
  OneDnnState& state = *onednn_;
  OneDnnState::Entry* entry = nullptr;
  for (auto& e : state.cache)
    if (e.rows == rows && e.accumulate == accumulate) entry = &e;
  if (!entry) {
    auto pd = state.make_pd(rows, n, k, state.weight_desc, accumulate);
    memory::desc src_desc({rows, k}, state.input_type, memory::format_tag::ab);
    memory::desc dst_desc({rows, n}, memory::data_type::f32, memory::format_tag::ab);
    entry = &state.add_entry(rows, accumulate, dnnl::matmul(pd), src_desc, dst_desc, pd.scratchpad_desc());
  }
  set_source(entry->src, x, static_cast<size_t>(rows * k), precision_ == MatmulPrecision::BF16);
  entry->dst.set_data_handle(y);
  set_scratchpad(entry->scratchpad, entry->scratchpad_bytes);
  execute_primitive(entry->primitive, entry->args, 5);
}

}  // namespace sdxl::cpu

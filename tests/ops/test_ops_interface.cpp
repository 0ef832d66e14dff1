// The Tensor-level op interface: shape and dtype checks give clear errors, outputs come from
// the arena, and results agree with the kernels underneath.
#include <gtest/gtest.h>

#include "backends/cpu/attention.h"
#include "backends/cpu/attention_flash.h"
#include "backends/cpu/throughput.h"
#include "core/error.h"
#include "ops.h"
#include "reference_ops.h"
#include "test_support.h"

namespace sdxl {
namespace {

Tensor from(const std::vector<float>& values, Shape shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

std::vector<float> values(const Tensor& t) { return std::vector<float>(t.data<float>(), t.data<float>() + t.numel()); }

TEST(Ops, MatmulAccumulateMatchesAPlainLoop) {
  const int64_t m = 7, k = 3, n = 13;
  auto a = test::random_floats(m * k, 1), b = test::random_floats(k * n, 2), c0 = test::random_floats(m * n, 3);
  Tensor c = from(c0, Shape{m, n});
  ops::matmul_accumulate(from(a, Shape{m, k}), from(b, Shape{k, n}), 0.5f, c);
  std::vector<float> want = c0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t r = 0; r < k; ++r) sum += static_cast<double>(a[i * k + r]) * b[r * n + j];
      want[i * n + j] += static_cast<float>(0.5 * sum);
    }
  EXPECT_TRUE(test::all_close(values(c), want, 1e-5, 1e-5));
  Tensor wrong = Tensor::empty(Shape{m, n + 1}, DType::F32);
  EXPECT_THROW(ops::matmul_accumulate(from(a, Shape{m, k}), from(b, Shape{k, n}), 1.0f, wrong), Error);
}

TEST(Ops, LinearFromF16WeightsAndLeadingAxes) {
  Arena arena;
  auto w = test::random_floats(12 * 8, 1);
  Tensor w16 = from(w, Shape{12, 8}).to(DType::F16);
  Tensor wback = w16.to(DType::F32);  // the weights the layer actually holds
  auto layer = ops::pack_linear(w16, Tensor());
  auto x = test::random_floats(2 * 3 * 8, 2);
  Tensor y = ops::linear(arena, from(x, Shape{2, 3, 8}), layer);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 12}));
  EXPECT_EQ(y.storage(), Storage::Arena);
  EXPECT_TRUE(test::all_close(values(y), reference::linear(x, values(wback), nullptr, 6, 12, 8), 1e-5, 1e-5));
  EXPECT_THROW(ops::linear(arena, from(x, Shape{6, 4, 2}), layer), Error);
}

TEST(Ops, ShapeErrorsNameTheOp) {
  Arena arena;
  Tensor a = Tensor::zeros(Shape{2, 3}, DType::F32);
  Tensor b = Tensor::zeros(Shape{3, 2}, DType::F32);
  try {
    ops::add(arena, a, b);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[add]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(ops::group_norm(arena, Tensor::zeros(Shape{1, 4, 4, 30}, DType::F32), 32, Tensor(), Tensor(), 1e-5f),
               Error);
  EXPECT_THROW(ops::activate(arena, Tensor::zeros(Shape{4}, DType::F16), ops::Activation::Silu), Error);
  EXPECT_THROW(ops::geglu(arena, Tensor::zeros(Shape{2, 5}, DType::F32)), Error);
  EXPECT_THROW(ops::attention(arena, Tensor::zeros(Shape{1, 4, 6}, DType::F32), Tensor::zeros(Shape{1, 5, 6}, DType::F32),
                              Tensor::zeros(Shape{1, 5, 6}, DType::F32), 4, false),
               Error);  // 6 channels do not split into 4 heads
}

TEST(Ops, Conv2dWithResidualAndBroadcastAdd) {
  Arena arena;
  auto w = test::random_floats(6 * 4 * 9, 3);
  auto b = test::random_floats(6, 4);
  auto conv = ops::pack_conv2d(from(w, Shape{6, 4, 3, 3}), from(b, Shape{6}), 1, 1);
  auto x = test::random_floats(2 * 5 * 5 * 4, 5);
  auto r = test::random_floats(2 * 5 * 5 * 6, 6);
  Tensor residual = from(r, Shape{2, 5, 5, 6});
  Tensor y = ops::conv2d(arena, from(x, Shape{2, 5, 5, 4}), conv, &residual);
  auto want = reference::conv2d(x, w, b, 2, 5, 5, 4, 6, 3, 1, 1, 1, 1, 1);
  for (size_t i = 0; i < want.size(); ++i) want[i] += r[i];
  EXPECT_TRUE(test::all_close(values(y), want, 1e-4, 1e-4));

  auto t = test::random_floats(2 * 6, 7);
  ops::add_broadcast_inplace(y, from(t, Shape{2, 6}));
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t p = 0; p < 25; ++p)
      for (int64_t c = 0; c < 6; ++c) want[(n * 25 + p) * 6 + c] += t[n * 6 + c];
  EXPECT_TRUE(test::all_close(values(y), want, 1e-4, 1e-4));
}

TEST(Ops, ConcatUpsampleAttentionShapes) {
  Arena arena;
  Tensor a = Tensor::zeros(Shape{1, 2, 2, 3}, DType::F32);
  Tensor b = Tensor::zeros(Shape{1, 2, 2, 5}, DType::F32);
  EXPECT_EQ(ops::concat_channels(arena, a, b).shape(), (Shape{1, 2, 2, 8}));
  EXPECT_EQ(ops::upsample_nearest2x(arena, a).shape(), (Shape{1, 4, 4, 3}));
  auto q = test::random_floats(2 * 9 * 8, 8);
  auto k = test::random_floats(2 * 4 * 8, 9);
  auto v = test::random_floats(2 * 4 * 8, 10);
  Tensor out = ops::attention(arena, from(q, Shape{2, 9, 8}), from(k, Shape{2, 4, 8}), from(v, Shape{2, 4, 8}), 2, false);
  EXPECT_TRUE(test::all_close(values(out), reference::attention(q, k, v, 2, 2, 9, 4, 4, false), 2e-5, 2e-5));
}

// --precision bf16 reaches the attention kernel as bf16 exactly where this CPU's bf16 dot
// products pay (cpu::bf16_attention_pays), else f32: the op's result is the kernel's for that
// choice, bit for bit, through all three entry points.
TEST(Ops, Bf16AttentionRunsWhereItPays) {
  Arena arena;
  const int64_t heads = 2, d = 64, c = heads * d, lq = 70, lk = 77;
  auto q = test::random_floats(lq * c, 31, -2.0f, 2.0f);
  auto kv = test::random_floats(lk * 2 * c, 32, -2.0f, 2.0f);
  const bool bf16 = cpu::attention_flash_bf16_built() && cpu::bf16_attention_pays();
  cpu::AttentionShape s;
  s.heads = heads;
  s.q_len = lq;
  s.kv_len = lk;
  s.head_dim = d;
  s.q_stride = s.out_stride = c;
  s.k_stride = s.v_stride = 2 * c;
  s.precision = bf16 ? Precision::BF16 : Precision::F32;
  std::vector<float> want(static_cast<size_t>(lq * c));
  cpu::attention(q.data(), kv.data(), kv.data() + c, want.data(), s);
  Tensor got = ops::attention_fused_kv(arena, from(q, Shape{1, lq, c}), from(kv, Shape{1, lk, 2 * c}), heads,
                                       Precision::BF16);
  EXPECT_EQ(values(got), want) << (bf16 ? "bf16" : "f32");
  if (bf16) {  // and f32 stays f32
    s.precision = Precision::F32;
    cpu::attention(q.data(), kv.data(), kv.data() + c, want.data(), s);
    EXPECT_EQ(values(ops::attention_fused_kv(arena, from(q, Shape{1, lq, c}), from(kv, Shape{1, lk, 2 * c}), heads)),
              want);
  }
}

// A LoRA swap packs new values shaped as the old layer, reusing its layout and primitives: the
// result equals a fresh pack of the same values, and the old layer (kept to be put back) still
// computes what it did.
TEST(Ops, RepackedLinearEqualsAFreshPackAndLeavesItsOriginalAlone) {
  for (const Precision precision : {Precision::F32, Precision::BF16}) {
    Arena arena;
    const int64_t n = 24, k = 40;
    const Tensor w0 = from(test::random_floats(n * k, 41), Shape{n, k}), b0 = from(test::random_floats(n, 42), Shape{n});
    const Tensor w1 = from(test::random_floats(n * k, 43), Shape{n, k}), b1 = from(test::random_floats(n, 44), Shape{n});
    const Tensor x = from(test::random_floats(7 * k, 45), Shape{7, k});
    const auto original = ops::pack_linear(w0, b0, precision);
    const std::vector<float> before = values(ops::linear(arena, x, original));  // a primitive to reuse
    const auto repacked = ops::repack_linear(original, w1, b1);
    const auto fresh = ops::pack_linear(w1, b1, precision);
    EXPECT_EQ(values(ops::linear(arena, x, repacked)), values(ops::linear(arena, x, fresh)));
    EXPECT_EQ(values(ops::linear(arena, x, original)), before);
    const Tensor x3 = from(test::random_floats(3 * k, 46), Shape{3, k});  // a row count neither has seen
    EXPECT_EQ(values(ops::linear(arena, x3, repacked)), values(ops::linear(arena, x3, fresh)));
    EXPECT_EQ(values(ops::unpack_linear(repacked).weight), values(ops::unpack_linear(fresh).weight));
    EXPECT_THROW(ops::repack_linear(original, from(test::random_floats(n * n, 47), Shape{n, n}), b1), Error);
  }
}

// A change added to packed values without unpacking them equals unpacking, adding and packing
// again (bf16: the sum made in f32 and rounded once, either way), bias included.
TEST(Ops, LinearPlusEqualsUnpackAddRepack) {
  for (const Precision precision : {Precision::F32, Precision::BF16}) {
    Arena arena;
    const int64_t n = 40, k = 72;
    const Tensor w0 = from(test::random_floats(n * k, 51), Shape{n, k}), b0 = from(test::random_floats(n, 52), Shape{n});
    const Tensor dw = from(test::random_floats(n * k, 53, -0.01f, 0.01f), Shape{n, k});
    const Tensor db = from(test::random_floats(n, 54, -0.01f, 0.01f), Shape{n});
    const auto layer = ops::pack_linear(w0, b0, precision);
    const Tensor x = from(test::random_floats(5 * k, 55), Shape{5, k});
    (void)ops::linear(arena, x, layer);  // a primitive the changed layer reuses
    ops::UnpackedWeights sum = ops::unpack_linear(layer);
    for (int64_t i = 0; i < n * k; ++i) sum.weight.data<float>()[i] += dw.data<float>()[i];
    for (int64_t i = 0; i < n; ++i) sum.bias.data<float>()[i] += db.data<float>()[i];
    const auto expected = ops::repack_linear(layer, sum.weight, sum.bias);
    const auto changed = ops::linear_plus(layer, dw, db);
    EXPECT_EQ(values(ops::unpack_linear(changed).weight), values(ops::unpack_linear(expected).weight));
    EXPECT_EQ(values(ops::unpack_linear(changed).bias), values(ops::unpack_linear(expected).bias));
    EXPECT_EQ(values(ops::linear(arena, x, changed)), values(ops::linear(arena, x, expected)));
    const auto weight_only = ops::linear_plus(layer, dw, Tensor());  // the bias kept
    EXPECT_EQ(values(ops::unpack_linear(weight_only).bias), values(b0));
    EXPECT_THROW(ops::linear_plus(layer, from(test::random_floats(k * n, 56), Shape{k, n}), db), Error);
  }
}

TEST(Ops, ProfileCountsEachFamilyOnceWhenOn) {
  Arena arena;
  auto layer = ops::pack_linear(from(test::random_floats(6 * 4, 3), Shape{6, 4}), Tensor());
  Tensor x = from(test::random_floats(5 * 4, 4), Shape{5, 4});
  ops::reset_profile();
  (void)ops::linear(arena, x, layer);  // profiling off: nothing recorded
  EXPECT_EQ(ops::profile()[static_cast<size_t>(ops::OpFamily::Linear)].calls, 0);

  ops::set_profiling(true);
  (void)ops::linear(arena, x, layer);
  Tensor image = from(test::random_floats(2 * 3 * 3 * 2, 5), Shape{2, 3, 3, 2});
  (void)ops::resize_nearest(arena, image, 6, 6);  // runs upsample_nearest2x inside: one call
  ops::set_profiling(false);
  const auto p = ops::profile();
  const auto& linear = p[static_cast<size_t>(ops::OpFamily::Linear)];
  EXPECT_EQ(linear.calls, 1);
  EXPECT_EQ(linear.flops, 2.0 * 5 * 4 * 6);
  EXPECT_GE(linear.seconds, 0.0);
  EXPECT_EQ(p[static_cast<size_t>(ops::OpFamily::Elementwise)].calls, 1);
  EXPECT_EQ(p[static_cast<size_t>(ops::OpFamily::Convolution)].calls, 0);
  EXPECT_STREQ(ops::op_family_name(ops::OpFamily::Attention), "attention");
}

}  // namespace
}  // namespace sdxl

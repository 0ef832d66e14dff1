#include "lora/lora_delta.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "ops.h"

namespace sdxl::lora {
namespace {

enum class Kind { LowRank, LoHa, LoKr, Full };

Kind kind_of(const ModuleTensors& m) {
  const bool lora = m.has("down") || m.has("up");
  const bool loha = m.has("hada_w1_a") || m.has("hada_w1_b") || m.has("hada_w2_a") || m.has("hada_w2_b");
  const bool lokr = m.has("lokr_w1") || m.has("lokr_w1_a") || m.has("lokr_w2") || m.has("lokr_w2_a");
  const bool full = m.has("diff") || m.has("diff_b");
  const int kinds = int(lora) + int(loha) + int(lokr) + int(full);
  SDXL_CHECK(kinds == 1, Format, "[lora] ", m.key, kinds == 0 ? ": has no update (only " : ": mixes formats (",
             [&] {
               std::string parts;
               for (const auto& [name, t] : m.parts) parts += (parts.empty() ? "" : ", ") + name;
               return parts;
             }(),
             ")");
  return lora ? Kind::LowRank : loha ? Kind::LoHa : lokr ? Kind::LoKr : Kind::Full;
}

Tensor f32(const Tensor& t) { return t.dtype() == DType::F32 && t.storage() == Storage::Owned ? t : t.to(DType::F32); }

// `t` as a matrix of `rows` rows (all other axes flattened).
Tensor matrix(const ModuleTensors& m, const std::string& part, int64_t rows = -1) {
  const Tensor& t = m.at(part);
  SDXL_CHECK(t.rank() >= 2 || (t.rank() == 1 && rows == 1), Format, "[lora] ", m.key, ": '", part, "' is ",
             t.shape().to_string(), ", expected a matrix");
  const int64_t r = rows > 0 ? rows : t.dim(0);
  SDXL_CHECK(r > 0 && t.numel() % r == 0, Format, "[lora] ", m.key, ": '", part, "' ", t.shape().to_string(),
             " does not have ", r, " rows");
  return f32(t).reshape(Shape{r, t.numel() / r});
}

Tensor product(const Tensor& a, const Tensor& b) {
  Tensor c = Tensor::zeros(Shape{a.dim(0), b.dim(1)}, DType::F32);
  ops::matmul_accumulate(a, b, 1.0f, c);
  return c;
}

// out[p, q, k] = sum_a sum_b core[a, b, k] left[p, a] right[b, q] (k: the kernel's positions):
// a Tucker (CP) decomposition rebuilt.
Tensor tucker(const ModuleTensors& m, const std::string& core_part, const Tensor& left, const Tensor& right) {
  const Tensor& core_stored = m.at(core_part);
  SDXL_CHECK(core_stored.rank() == 4 && core_stored.dim(0) == left.dim(1) && core_stored.dim(1) == right.dim(0), Format,
             "[lora] ", m.key, ": '", core_part, "' ", core_stored.shape().to_string(), " does not fit its factors ",
             left.shape().to_string(), " and ", right.shape().to_string());
  const Tensor core = f32(core_stored);
  const int64_t A = core.dim(0), B = core.dim(1), K = core.dim(2) * core.dim(3), P = left.dim(0), Q = right.dim(1);
  // core . right over b: [A, Q, K]
  Tensor inner = Tensor::zeros(Shape{A, Q, K}, DType::F32);
  const float* c = core.data<float>();
  const float* r = right.data<float>();
  float* in = inner.data<float>();
  for (int64_t a = 0; a < A; ++a)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t q = 0; q < Q; ++q) {
        const float w = r[b * Q + q];
        for (int64_t k = 0; k < K; ++k) in[(a * Q + q) * K + k] += c[(a * B + b) * K + k] * w;
      }
  // left . inner over a: [P, Q*K]
  Tensor out = product(left, inner.reshape(Shape{A, Q * K}));
  return out.reshape(Shape{P, Q, core.dim(2), core.dim(3)});
}

float alpha_scale(const ModuleTensors& m, int64_t rank) {
  if (!m.has("alpha") || rank <= 0) return 1.0f;
  const Tensor& a = m.at("alpha");
  SDXL_CHECK(a.numel() == 1, Format, "[lora] ", m.key, ": 'alpha' has ", a.numel(), " values, expected one");
  return f32(a).data<float>()[0] / static_cast<float>(rank);
}

// A low-rank module's factors as matrices, up [out, rank] and down [rank, in...]; `paired`: up's
// columns checked against down's rows (a plain product, no Tucker core).
struct LowRankFactors {
  Tensor up, down;
  int64_t rank;
};
LowRankFactors low_rank_factors(const ModuleTensors& m, int64_t out_features, bool paired) {
  const Tensor up = matrix(m, "up", out_features);
  const int64_t rank = m.at("down").dim(0);
  const Tensor down = matrix(m, "down", rank);
  if (paired)
    SDXL_CHECK(up.dim(1) == rank, Format, "[lora] ", m.key, ": the ranks of up ", m.at("up").shape().to_string(),
               " and down ", m.at("down").shape().to_string(), " do not match");
  return {up, down, rank};
}

// An update of `count` values (`shape`) for the weight of `weight_shape`, or a Format error.
void check_update_size(const ModuleTensors& m, int64_t count, const Shape& shape, const Shape& weight_shape) {
  SDXL_CHECK(count == weight_shape.numel(), Format, "[lora] ", m.key, ": its update has ", count, " values (",
             shape.to_string(), ") but the weight it adapts is ", weight_shape.to_string());
}

Tensor low_rank(const ModuleTensors& m, int64_t out_features) {
  const bool tucker_core = m.has("mid");
  const LowRankFactors f = low_rank_factors(m, out_features, !tucker_core);
  Tensor delta = tucker_core ? tucker(m, "mid", f.up, f.down) : product(f.up, f.down);
  const float scale = alpha_scale(m, f.rank);
  if (scale != 1.0f)
    for (int64_t i = 0; i < delta.numel(); ++i) delta.data<float>()[i] *= scale;
  return delta;
}

// One LoHa factor: a . b, or with Tucker t: tucker(t, a^T, b).
Tensor hadamard_factor(const ModuleTensors& m, const char* a, const char* b, const char* t, int64_t out_features) {
  if (m.has(t)) return tucker(m, t, transposed(matrix(m, a)), matrix(m, b));
  const Tensor left = matrix(m, a, out_features), right = matrix(m, b);
  SDXL_CHECK(left.dim(1) == right.dim(0), Format, "[lora] ", m.key, ": the ranks of ", a, " ",
             m.at(a).shape().to_string(), " and ", b, " ", m.at(b).shape().to_string(), " do not match");
  return product(left, right);
}

Tensor loha(const ModuleTensors& m, int64_t out_features) {
  Tensor d1 = hadamard_factor(m, "hada_w1_a", "hada_w1_b", "hada_t1", out_features);
  const Tensor d2 = hadamard_factor(m, "hada_w2_a", "hada_w2_b", "hada_t2", out_features);
  SDXL_CHECK(d1.numel() == d2.numel(), Format, "[lora] ", m.key, ": the LoHa factors ", d1.shape().to_string(), " and ",
             d2.shape().to_string(), " differ");
  const float scale = alpha_scale(m, m.at("hada_w1_b").dim(0));
  for (int64_t i = 0; i < d1.numel(); ++i) d1.data<float>()[i] *= d2.data<float>()[i] * scale;
  return d1;
}

Tensor lokr_factor(const ModuleTensors& m, const std::string& w) {
  if (m.has(w)) return matrix(m, w);
  if (m.has(w + "_a") && m.has(w + "_b") && w == "lokr_w2" && m.has("lokr_t2"))
    return tucker(m, "lokr_t2", transposed(matrix(m, w + "_a")), matrix(m, w + "_b"));
  const Tensor a = matrix(m, w + "_a"), b = matrix(m, w + "_b");
  SDXL_CHECK(a.dim(1) == b.dim(0), Format, "[lora] ", m.key, ": the ranks of ", w, "_a ", m.at(w + "_a").shape().to_string(),
             " and ", w, "_b ", m.at(w + "_b").shape().to_string(), " do not match");
  return product(a, b);
}

Tensor lokr(const ModuleTensors& m) {
  const Tensor w1 = lokr_factor(m, "lokr_w1");
  Tensor w2 = lokr_factor(m, "lokr_w2");
  w2 = w2.reshape(Shape{w2.dim(0), w2.numel() / w2.dim(0)});
  const int64_t a = w1.dim(0), b = w1.dim(1), c = w2.dim(0), d = w2.dim(1);
  int64_t rank = 0;  // AUTOMATIC1111: w2_b's rows, else w1_b's; none when both factors are whole
  if (m.has("lokr_w2_b")) rank = m.at("lokr_w2_b").dim(0);
  else if (m.has("lokr_w1_b")) rank = m.at("lokr_w1_b").dim(0);
  const float scale = alpha_scale(m, rank);
  Tensor out = Tensor::empty(Shape{a * c, b * d}, DType::F32);
  const float* x = w1.data<float>();
  const float* y = w2.data<float>();
  float* o = out.data<float>();
  for (int64_t i = 0; i < a; ++i)
    for (int64_t k = 0; k < c; ++k)
      for (int64_t j = 0; j < b; ++j) {
        const float s = x[i * b + j] * scale;
        float* row = o + (i * c + k) * (b * d) + j * d;
        for (int64_t l = 0; l < d; ++l) row[l] = s * y[k * d + l];
      }
  return out;
}

}  // namespace

Tensor weight_delta(const ModuleTensors& m, const Shape& weight_shape) {
  const int64_t out_features = weight_shape.rank() > 0 ? weight_shape[0] : 1;
  Tensor delta;
  switch (kind_of(m)) {
    case Kind::LowRank: delta = low_rank(m, out_features); break;
    case Kind::LoHa: delta = loha(m, out_features); break;
    case Kind::LoKr: delta = lokr(m); break;
    case Kind::Full:
      if (!m.has("diff")) return Tensor::zeros(weight_shape, DType::F32);
      delta = m.at("diff").to(DType::F32);
      break;
  }
  check_update_size(m, delta.numel(), delta.shape(), weight_shape);
  return delta.reshape(weight_shape);
}

void check_module(const ModuleTensors& m, const Shape& weight_shape, int64_t bias_size) {
  kind_of(m);
  if (m.has("diff_b"))
    SDXL_CHECK(m.at("diff_b").numel() == bias_size, Format, "[lora] ", m.key, ": diff_b has ", m.at("diff_b").numel(),
               " values but the layer's bias ", bias_size);
  // Shapes are what the update is made of: computing it once is the check that cannot drift
  // from the arithmetic (small: the update of one layer).
  const Tensor delta = weight_delta(m, weight_shape);
  if (m.has("dora_scale")) {
    const Tensor& s = m.at("dora_scale");
    const bool per_output = s.dim(0) == weight_shape[0] && s.numel() == weight_shape[0];
    const bool per_input = weight_shape.rank() >= 2 && s.rank() >= 2 && s.dim(0) == 1 && s.numel() == weight_shape[1];
    SDXL_CHECK(per_output || per_input, Format, "[lora] ", m.key, ": dora_scale ", s.shape().to_string(),
               " fits neither the outputs nor the inputs of ", weight_shape.to_string());
  }
}

void merge_weight(Tensor& weight, const ModuleTensors& m, double multiplier) {
  SDXL_CHECK(weight.dtype() == DType::F32, InvalidArgument, "[lora] merge into a non-f32 weight");
  if (kind_of(m) == Kind::LowRank && !m.has("mid") && !m.has("dora_scale") && weight.rank() >= 1) {
    // W += multiplier * scale * up down, the product accumulated into the weight by the GEMM:
    // no update matrix is made (a swap in a loaded model merges hundreds of these).
    const int64_t out_features = weight.dim(0);
    const LowRankFactors f = low_rank_factors(m, out_features, true);
    const Shape update{f.up.dim(0), f.down.dim(1)};
    check_update_size(m, update.numel(), update, weight.shape());
    Tensor rows = weight.reshape(Shape{out_features, weight.numel() / out_features});
    ops::matmul_accumulate(f.up, f.down, static_cast<float>(multiplier) * alpha_scale(m, f.rank), rows);
    return;
  }
  const Tensor delta = weight_delta(m, weight.shape());
  float* w = weight.data<float>();
  const float* d = delta.data<float>();
  const int64_t n = weight.numel();
  if (!m.has("dora_scale")) {
    const float s = static_cast<float>(multiplier);
    for (int64_t i = 0; i < n; ++i) w[i] += s * d[i];
    return;
  }
  // DoRA: the adapted weight's direction with the stored magnitudes.
  const Tensor scale = f32(m.at("dora_scale"));
  const float* g = scale.data<float>();
  const int64_t rows = weight.dim(0), cols = weight.dim(1), kernel = n / (rows * std::max<int64_t>(cols, 1));
  const bool per_output = scale.dim(0) == rows && scale.numel() == rows;
  std::vector<double> norms(static_cast<size_t>(per_output ? rows : cols), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(w[i]) + d[i];
    norms[static_cast<size_t>(per_output ? i / (cols * kernel) : (i / kernel) % cols)] += v * v;
  }
  for (auto& v : norms) v = std::sqrt(v);
  for (int64_t i = 0; i < n; ++i) {
    const size_t axis = static_cast<size_t>(per_output ? i / (cols * kernel) : (i / kernel) % cols);
    const double merged = static_cast<double>(w[i]) + d[i];
    const double decomposed = norms[axis] > 0 ? merged * g[axis] / norms[axis] : merged;
    w[i] = static_cast<float>(w[i] + multiplier * (decomposed - w[i]));
  }
}

void merge_bias(Tensor& bias, const ModuleTensors& m, double multiplier) {
  if (!m.has("diff_b")) return;
  const Tensor d = f32(m.at("diff_b"));
  SDXL_CHECK(d.numel() == bias.numel(), Format, "[lora] ", m.key, ": diff_b has ", d.numel(), " values, the bias ",
             bias.numel());
  for (int64_t i = 0; i < bias.numel(); ++i) bias.data<float>()[i] += static_cast<float>(multiplier) * d.data<float>()[i];
}

}  // namespace sdxl::lora

// UniPCMultistepScheduler (UniPC-p with the UniC corrector, bh1/bh2), diffusers 0.25.1.
#include <cmath>
#include <deque>

#include "core/error.h"
#include "samplers/samplers_internal.h"
#include "samplers/multistep_scheduler.h"

namespace sdxl::samplers {
namespace {

// Solves the small dense system a x = b (Gaussian elimination with partial pivoting).
std::vector<double> solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const size_t n = b.size();
  for (size_t c = 0; c < n; ++c) {
    size_t pivot = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[pivot][c])) pivot = r;
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  std::vector<double> x(n);
  for (size_t i = n; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= a[i][k] * x[k];
    x[i] = s / a[i][i];
  }
  return x;
}

class UniPcScheduler : public MultistepScheduler {
 public:
  explicit UniPcScheduler(const SchedulerSpec& spec) : MultistepScheduler(spec) {
    SDXL_CHECK(spec.solver_order >= 1 && spec.solver_order <= 3, Unsupported, "[scheduler] UniPC solver_order ",
               spec.solver_order, " is not supported (1 to 3)");
    SDXL_CHECK(spec.solver_type == "bh1" || spec.solver_type == "bh2", Unsupported, "[scheduler] UniPC solver_type '",
               spec.solver_type, "' is not supported (bh1, bh2)");
  }

  void set_timesteps(int64_t steps) override {
    set_multistep_schedule(steps);
    outputs_.clear();
    last_sample_ = Tensor();
    lower_order_nums_ = 0;
    this_order_ = 0;
  }

  Tensor step(const Tensor& model_output, double t, const Tensor& sample, const NoiseFn&) override {
    const size_t i = step_index(t);
    Tensor converted = convert(model_output, sample, i);
    Tensor x = sample;
    if (i > 0 && last_sample_.defined()) x = update(converted, last_sample_, this_order_, i, /*corrector=*/true);
    outputs_.push_back(converted);
    if (static_cast<int64_t>(outputs_.size()) > spec_.solver_order) outputs_.pop_front();
    int64_t order = spec_.lower_order_final
                        ? std::min<int64_t>(spec_.solver_order, static_cast<int64_t>(timesteps_.size() - i))
                        : spec_.solver_order;
    this_order_ = static_cast<int>(std::min<int64_t>(order, lower_order_nums_ + 1));
    last_sample_ = x;
    Tensor out = update(Tensor(), x, this_order_, i, /*corrector=*/false);
    if (lower_order_nums_ < spec_.solver_order) ++lower_order_nums_;
    ++*step_index_;
    return out;
  }

 private:
  // predict_x0: the data prediction at sigmas[i]
  Tensor convert(const Tensor& model_output, const Tensor& sample, size_t i) const {
    const AlphaSigma s = alpha_sigma(to_f32(sigmas_[i]));
    Tensor x0 = Tensor::empty(sample.shape(), DType::F32);
    for (int64_t k = 0; k < sample.numel(); ++k) {
      const float x = sample.data<float>()[k], m = model_output.data<float>()[k];
      x0.data<float>()[k] = spec_.prediction_type == "epsilon"        ? (x - s.sigma * m) / s.alpha
                            : spec_.prediction_type == "v_prediction" ? s.alpha * x - s.sigma * m
                                                                      : m;
    }
    return x0;
  }

  // The predictor (from sigmas[i] to sigmas[i + 1]) or the corrector (re-deriving the sample at
  // sigmas[i] from last_sample at sigmas[i - 1] with this step's output `model_t`).
  Tensor update(const Tensor& model_t, const Tensor& last, int order, size_t i, bool corrector) const {
    const size_t target = corrector ? i : i + 1, source = corrector ? i - 1 : i;
    const AlphaSigma st = alpha_sigma(to_f32(sigmas_[target]));
    const AlphaSigma s0 = alpha_sigma(to_f32(sigmas_[source]));
    const float h = st.lambda - s0.lambda;
    const Tensor& m0 = outputs_.back();
    std::vector<double> rks;
    std::vector<const Tensor*> previous;
    for (int k = 1; k < order; ++k) {
      const size_t si = corrector ? i - static_cast<size_t>(k + 1) : i - static_cast<size_t>(k);
      const AlphaSigma a = alpha_sigma(to_f32(sigmas_[si]));
      rks.push_back(static_cast<float>((a.lambda - s0.lambda) / h));
      previous.push_back(&outputs_[outputs_.size() - 1 - static_cast<size_t>(k)]);
    }
    rks.push_back(1.0);
    const float hh = -h;
    const float h_phi_1 = std::expm1(hh);
    const float b_h = spec_.solver_type == "bh1" ? hh : std::expm1(hh);
    std::vector<std::vector<double>> r;
    std::vector<double> b;
    float h_phi_k = h_phi_1 / hh - 1.0f;
    float factorial = 1.0f;
    for (int k = 1; k <= order; ++k) {
      std::vector<double> row;
      for (double rk : rks) row.push_back(std::pow(rk, k - 1));
      r.push_back(row);
      b.push_back(h_phi_k * factorial / b_h);
      factorial *= static_cast<float>(k + 1);
      h_phi_k = h_phi_k / hh - 1.0f / factorial;
    }
    std::vector<double> rhos;
    if (!corrector) {
      if (order == 2) rhos = {0.5};
      else if (order > 2) {
        std::vector<std::vector<double>> sub(static_cast<size_t>(order - 1));
        for (int a = 0; a < order - 1; ++a) sub[a] = std::vector<double>(r[a].begin(), r[a].begin() + order - 1);
        rhos = solve(sub, std::vector<double>(b.begin(), b.end() - 1));
      }
    } else {
      rhos = order == 1 ? std::vector<double>{0.5} : solve(r, b);
    }
    const float c_x = st.sigma / s0.sigma, c_m = st.alpha * h_phi_1, c_b = st.alpha * b_h;
    Tensor out = Tensor::empty(last.shape(), DType::F32);
    for (int64_t k = 0; k < last.numel(); ++k) {
      const float m0k = m0.data<float>()[k];
      float res = 0.0f;
      for (size_t j = 0; j < previous.size(); ++j)
        res += static_cast<float>(rhos[j]) * ((previous[j]->data<float>()[k] - m0k) / static_cast<float>(rks[j]));
      if (corrector) res = res + static_cast<float>(rhos.back()) * (model_t.data<float>()[k] - m0k);
      out.data<float>()[k] = (c_x * last.data<float>()[k] - c_m * m0k) - c_b * res;
    }
    return out;
  }

  std::deque<Tensor> outputs_;  // the last solver_order data predictions, oldest first
  Tensor last_sample_;
  int64_t lower_order_nums_ = 0;
  int this_order_ = 0;
};

}  // namespace

std::unique_ptr<Scheduler> make_unipc(const SchedulerSpec& spec) { return std::make_unique<UniPcScheduler>(spec); }

}  // namespace sdxl::samplers

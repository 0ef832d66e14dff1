#include "pipeline/stages/adapter_steering.h"

#include <cstring>

#include "core/error.h"
#include "ops.h"

namespace sdxl::pipeline {
namespace {

// [negatives | positives] of a [1, h, w, C] feature: `images` copies each, the negatives zero
// when `zero_negatives`.
Tensor batch_feature(const Tensor& f, bool cfg, bool zero_negatives, int64_t images) {
  Shape shape = f.shape();
  const int64_t rows = (cfg ? 2 : 1) * images;
  shape[0] = rows;
  Tensor out = Tensor::empty(shape, DType::F32);
  char* dst = static_cast<char*>(out.raw());
  for (int64_t i = 0; i < rows; ++i) {
    if (cfg && zero_negatives && i < images)
      std::memset(dst + i * f.nbytes(), 0, f.nbytes());
    else
      std::memcpy(dst + i * f.nbytes(), f.raw(), f.nbytes());
  }
  return out;
}

}  // namespace

std::vector<std::vector<bool>> adapter_steps(const std::vector<AdapterUnit>& units, size_t steps) {
  std::vector<std::vector<bool>> active;
  const double n = static_cast<double>(steps);
  for (size_t i = 0; i < steps; ++i) {
    std::vector<bool> row;
    const double at = static_cast<double>(i) / n;
    for (const auto& unit : units) {
      // diffusers: i < int(num_inference_steps * adapter_conditioning_factor), in Python's floats.
      const bool acts = unit.window == ControlWindow::Diffusers
                            ? at >= unit.start && static_cast<double>(i) < static_cast<double>(static_cast<int64_t>(n * unit.end))
                            : at >= unit.start && at <= unit.end;
      row.push_back(acts);
    }
    active.push_back(std::move(row));
  }
  return active;
}

std::vector<float> adapter_soft_injection_weights() { return {0.25f, 0.62f, 0.825f, 1.0f}; }

AdapterSteering::AdapterSteering(const std::vector<AdapterUnit>& units, bool cfg, int64_t images, size_t steps) {
  SDXL_CHECK(units.size() < 31, InvalidArgument, "[t2i-adapter] too many adapters: ", units.size());
  Arena arena;
  for (size_t u = 0; u < units.size(); ++u) {
    const AdapterUnit& unit = units[u];
    SDXL_CHECK(unit.model && unit.image.defined() && unit.image.rank() == 4 && unit.image.dim(0) == 1, Internal,
               "[t2i-adapter] a unit needs a model and one image");
    ArenaScope scope(arena);
    std::vector<Tensor> raw = unit.model->forward(arena, unit.image, static_cast<float>(unit.scale));
    if (!unit.feature_weights.empty()) {
      SDXL_CHECK(unit.feature_weights.size() == raw.size(), Internal, "[t2i-adapter] unit ", u, ": ",
                 unit.feature_weights.size(), " weights for ", raw.size(), " features");
      for (size_t i = 0; i < raw.size(); ++i) ops::scale_shift(raw[i], unit.feature_weights[i], 0.0f, raw[i]);
    }
    std::vector<Tensor> batched;
    for (const Tensor& f : raw) batched.push_back(batch_feature(f, cfg, unit.conditional_only, images));
    features_.push_back(std::move(batched));
  }
  active_ = adapter_steps(units, steps);
}

const std::vector<Tensor>* AdapterSteering::operator()(size_t step) {
  int key = 0, count = 0, only = -1;
  for (size_t u = 0; u < features_.size(); ++u)
    if (active_.at(step)[u]) {
      key |= 1 << u;
      ++count;
      only = static_cast<int>(u);
    }
  if (count == 0) return nullptr;
  if (count == 1) return &features_[static_cast<size_t>(only)];
  if (key != last_sum_key_) {
    sum_.clear();
    for (size_t u = 0; u < features_.size(); ++u) {
      if (!(key & (1 << u))) continue;
      if (sum_.empty()) {
        for (const Tensor& f : features_[u]) sum_.push_back(f.clone());
        continue;
      }
      SDXL_CHECK(features_[u].size() == sum_.size(), InvalidArgument, "[t2i-adapter] adapter ", u, " gives ",
                 features_[u].size(), " features, the first ", sum_.size());
      for (size_t i = 0; i < sum_.size(); ++i) {
        SDXL_CHECK(features_[u][i].shape() == sum_[i].shape(), InvalidArgument, "[t2i-adapter] adapter ", u, "'s feature ",
                   i, " is ", features_[u][i].shape().to_string(), ", the first adapter's ", sum_[i].shape().to_string());
        ops::add_inplace(sum_[i], features_[u][i]);
      }
    }
    last_sum_key_ = key;
  }
  return &sum_;
}

}  // namespace sdxl::pipeline

#include "pipeline/stages/control_steering.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "ops.h"

namespace sdxl::pipeline {
namespace {

Tensor repeat_image(const Tensor& image, int64_t count) {
  Shape shape = image.shape();
  shape[0] = count;
  Tensor out = Tensor::empty(shape, DType::F32);
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(static_cast<char*>(out.raw()) + i * image.nbytes(), image.raw(), image.nbytes());
  return out;
}

// [zeros (the negatives), x]: guess mode's residuals for a batch run under CFG.
Tensor after_zeros(Arena& arena, const Tensor& x) {
  Shape shape = x.shape();
  shape[0] *= 2;
  Tensor out = Tensor::in_arena(arena, shape, DType::F32);
  std::memset(out.raw(), 0, x.nbytes());
  std::memcpy(static_cast<char*>(out.raw()) + x.nbytes(), x.raw(), x.nbytes());
  return out;
}

}  // namespace

std::vector<std::vector<double>> controlnet_keep(const std::vector<ControlUnit>& units, size_t steps) {
  std::vector<std::vector<double>> keep;
  const double n = static_cast<double>(steps);
  for (size_t i = 0; i < steps; ++i) {
    std::vector<double> row;
    const double at = static_cast<double>(i) / n, next = static_cast<double>(i + 1) / n;
    for (const auto& unit : units) {
      const bool stopped = unit.window == ControlWindow::Diffusers ? at < unit.start || next > unit.end
                                                                   : at < unit.start || at > unit.end;
      row.push_back(1.0 - static_cast<double>(stopped));
    }
    keep.push_back(std::move(row));
  }
  return keep;
}

std::vector<float> soft_injection_weights(size_t outputs) {
  std::vector<float> weights;
  for (size_t i = 0; i < outputs; ++i) weights.push_back(static_cast<float>(std::pow(0.825, 12.0 - static_cast<double>(i))));
  return weights;
}

ControlSteering::ControlSteering(const std::vector<ControlUnit>& units, bool guess_mode, const Conditioning& cond,
                                 bool cfg, int64_t images, size_t steps)
    : units_(units), guess_mode_(guess_mode && cfg), cfg_(cfg), images_(images), cond_(cond), positive_(cond) {
  if (cfg_) {  // the positive half: rows [images, 2 images)
    positive_.context = cond.context.slice_rows(images, images);
    positive_.text_embeds = cond.text_embeds.slice_rows(images, images);
    positive_.time_ids = cond.time_ids.slice_rows(images, images);
  }
  for (const auto& unit : units) {
    SDXL_CHECK(unit.model && unit.image.defined() && unit.image.rank() == 4 && unit.image.dim(0) == 1, Internal,
               "[controlnet] a unit needs a model and one image");
    positive_only_.push_back(cfg_ && (guess_mode_ || unit.conditional_only));
    batched_images_.push_back(repeat_image(unit.image, cfg_ && !positive_only_.back() ? 2 * images : images));
  }
  keep_ = controlnet_keep(units, steps);
}

const models::ControlResiduals* ControlSteering::operator()(Arena& arena, size_t step, const Tensor& model_input,
                                                            float timestep) {
  if (units_.empty()) return nullptr;
  bool any = false;
  for (size_t u = 0; u < units_.size(); ++u) {
    // A unit outside its window adds zeros (diffusers runs it at scale 0): skipped.
    if (keep_.at(step)[u] == 0.0) continue;
    const ControlUnit& unit = units_[u];
    const bool positive = positive_only_[u];
    const Conditioning& c = positive ? positive_ : cond_;
    std::vector<float> scales = unit.model->residual_scales(static_cast<float>(unit.scale * keep_[step][u]), guess_mode_);
    if (!unit.residual_weights.empty()) {
      SDXL_CHECK(unit.residual_weights.size() == scales.size(), Internal, "[controlnet] unit ", u, ": ",
                 unit.residual_weights.size(), " weights for ", scales.size(), " outputs");
      for (size_t i = 0; i < scales.size(); ++i) scales[i] *= unit.residual_weights[i];
    }
    const Tensor input = positive ? model_input.slice_rows(images_, images_) : model_input;
    models::ControlResiduals r = unit.model->forward(arena, input, timestep, c.context, c.text_embeds, c.time_ids,
                                                     batched_images_[u], scales);
    if (positive) {
      for (auto& d : r.down) d = after_zeros(arena, d);
      r.mid = after_zeros(arena, r.mid);
    }
    if (!any) {
      sum_ = std::move(r);
      any = true;
      continue;
    }
    SDXL_CHECK(r.down.size() == sum_.down.size(), InvalidArgument, "[controlnet] unit ", u, " gives ", r.down.size(),
               " residuals, unit 0 ", sum_.down.size());
    for (size_t i = 0; i < r.down.size(); ++i) ops::add_inplace(sum_.down[i], r.down[i]);
    ops::add_inplace(sum_.mid, r.mid);
  }
  return any ? &sum_ : nullptr;
}

}  // namespace sdxl::pipeline

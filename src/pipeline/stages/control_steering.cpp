#include "pipeline/stages/control_steering.h"

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
    for (const auto& unit : units)
      row.push_back(1.0 - static_cast<double>(static_cast<double>(i) / n < unit.start ||
                                              static_cast<double>(i + 1) / n > unit.end));
    keep.push_back(std::move(row));
  }
  return keep;
}

ControlSteering::ControlSteering(const std::vector<ControlUnit>& units, bool guess_mode, const Conditioning& cond,
                                 bool cfg, int64_t images, size_t steps)
    : units_(units), guess_mode_(guess_mode && cfg), cfg_(cfg), images_(images), cond_(cond) {
  if (guess_mode_) {  // the positive half: rows [images, 2 images)
    cond_.context = cond.context.slice_rows(images, images);
    cond_.text_embeds = cond.text_embeds.slice_rows(images, images);
    cond_.time_ids = cond.time_ids.slice_rows(images, images);
  }
  const int64_t net_batch = cfg_ && !guess_mode_ ? 2 * images : images;
  for (const auto& unit : units) {
    SDXL_CHECK(unit.model && unit.image.defined() && unit.image.rank() == 4 && unit.image.dim(0) == 1, Internal,
               "[controlnet] a unit needs a model and one image");
    batched_images_.push_back(repeat_image(unit.image, net_batch));
  }
  keep_ = controlnet_keep(units, steps);
}

const models::ControlResiduals* ControlSteering::operator()(Arena& arena, size_t step, const Tensor& model_input,
                                                            float timestep) {
  if (units_.empty()) return nullptr;
  const Tensor input = guess_mode_ ? model_input.slice_rows(images_, images_) : model_input;
  bool any = false;
  for (size_t u = 0; u < units_.size(); ++u) {
    // A unit outside its window adds zeros (diffusers runs it at scale 0): skipped.
    if (keep_.at(step)[u] == 0.0) continue;
    const float scale = static_cast<float>(units_[u].scale * keep_[step][u]);
    models::ControlResiduals r = units_[u].model->forward(arena, input, timestep, cond_.context, cond_.text_embeds,
                                                          cond_.time_ids, batched_images_[u], scale, guess_mode_);
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
  if (!any) return nullptr;
  if (guess_mode_) {
    for (auto& d : sum_.down) d = after_zeros(arena, d);
    sum_.mid = after_zeros(arena, sum_.mid);
  }
  return &sum_;
}

}  // namespace sdxl::pipeline

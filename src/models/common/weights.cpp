#include "models/common/weights.h"

#include <functional>
#include <random>

#include "core/error.h"

namespace sdxl::models {

namespace {

// From the store when it has the layer as this machine packs it; else packed and offered to it.
template <typename Weights, typename Restore>
Weights from_store_or_pack(PackedLayerStore* store, const std::string& name, const Restore& restore,
                           const std::function<Weights()>& pack) {
  if (!store) return pack();
  if (const PackedImage* image = store->find(name)) {
    Weights restored = restore(*image);
    if (!restored.empty()) return restored;
    store->refuse(name);
  }
  Weights packed = pack();
  store->keep(name, ops::packed_image(packed));
  return packed;
}

}  // namespace

ops::LinearWeights WeightBinder::packed_linear(const std::string& name, int64_t out_features, int64_t in_features,
                                               bool bias, const std::function<ops::LinearWeights()>& pack) {
  return from_store_or_pack<ops::LinearWeights>(
      packed_store_, name,
      [&](const PackedImage& image) {
        return ops::linear_from_image(image, out_features, in_features, bias, precision_);
      },
      pack);
}

ops::Conv2dWeights WeightBinder::packed_conv2d(const std::string& name, const ops::Conv2dGeometry& geometry, bool bias,
                                               const std::function<ops::Conv2dWeights()>& pack) {
  return from_store_or_pack<ops::Conv2dWeights>(
      packed_store_, name,
      [&](const PackedImage& image) { return ops::conv2d_from_image(image, geometry, bias, precision_); }, pack);
}

void FileWeights::expect(const std::string& name, const Shape& shape) {
  const io::TensorRecord* record = weights_.record(name);
  if (!record)
    fail(ErrorCode::Format, "[weights] ", weights_.component(), ": missing tensor '", name, "' (expected shape ",
         shape.to_string(), "); does the config match the weights?");
  if (record->shape != shape)
    fail(ErrorCode::Format, "[weights] ", weights_.component(), ": tensor '", name, "' has shape ",
         record->shape.to_string(), " but the config implies ", shape.to_string());
  if (!dtype_is_float(record->dtype))
    fail(ErrorCode::Format, "[weights] ", weights_.component(), ": tensor '", name, "' is ",
         dtype_name(record->dtype), ", expected a float type");
  taken_.insert(name);
}

Tensor FileWeights::take(const std::string& name, const Shape& shape) {
  expect(name, shape);
  return weights_.get_transient(name);
}

void FileWeights::finish(const std::vector<std::string>& ignored_suffixes) const {
  std::vector<std::string> unexpected;
  for (const auto& name : weights_.names()) {
    if (taken_.count(name)) continue;
    bool ignored = false;
    for (const auto& suffix : ignored_suffixes)
      ignored |= name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (!ignored) unexpected.push_back(name);
  }
  if (unexpected.empty()) return;
  std::string list;
  for (size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", '" : "'") + unexpected[i] + "'";
  if (unexpected.size() > 8) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
  fail(ErrorCode::Format, "[weights] ", weights_.component(), ": unexpected tensors ", list,
       "; does the config match the weights?");
}

Tensor ShapeRecorder::take(const std::string& name, const Shape& shape) {
  if (!shapes_.emplace(name, shape).second) fail(ErrorCode::Internal, "[weights] tensor '", name, "' bound twice");
  return Tensor();
}

bool is_norm_scale(const std::string& name, const Shape& shape) {
  return name.find("norm") != std::string::npos && name.size() > 7 &&
         name.compare(name.size() - 7, 7, ".weight") == 0 && shape.rank() == 1;
}

Tensor RandomWeights::take(const std::string& name, const Shape& shape) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937_64 gen(seed_ ^ std::hash<std::string>{}(name));
  std::uniform_real_distribution<float> dist(-scale_, scale_);
  const bool norm_scale = is_norm_scale(name, shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = norm_scale ? 1.0f + dist(gen) : dist(gen);
  return t;
}

}  // namespace sdxl::models

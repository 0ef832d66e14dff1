#include "models/common/layers.h"

#include <cstring>

#include "core/error.h"
#include "models/common/adaptable_layers.h"

namespace sdxl::models {

Tensor to_f32(const Tensor& t) {
  if (!t.defined()) return t;
  return t.to(DType::F32);
}

Linear Linear::bind(WeightBinder& w, const std::string& prefix, int64_t in_features, int64_t out_features, bool bias) {
  return bind_fused(w, {prefix}, in_features, out_features, bias);
}

Linear Linear::bind_fused(WeightBinder& w, const std::vector<std::string>& prefixes, int64_t in_features,
                          int64_t out_features_each, bool bias) {
  Linear layer;
  layer.in_ = in_features;
  layer.out_ = out_features_each * static_cast<int64_t>(prefixes.size());
  std::vector<Tensor> weights, biases;
  for (const auto& prefix : prefixes) {
    weights.push_back(w.take(prefix + ".weight", Shape{out_features_each, in_features}));
    if (bias) biases.push_back(w.take(prefix + ".bias", Shape{out_features_each}));
  }
  if (!w.has_data()) return layer;
  if (prefixes.size() == 1) {
    *layer.packed_ = ops::pack_linear(weights[0], bias ? biases[0] : Tensor(), w.precision());
  } else {
    Tensor weight = Tensor::empty(Shape{layer.out_, in_features}, DType::F32);
    Tensor fused_bias = bias ? Tensor::empty(Shape{layer.out_}, DType::F32) : Tensor();
    for (size_t i = 0; i < prefixes.size(); ++i) {
      Tensor part = to_f32(weights[i]);
      std::memcpy(weight.data<float>() + static_cast<int64_t>(i) * out_features_each * in_features, part.raw(), part.nbytes());
      if (bias) {
        Tensor b = to_f32(biases[i]);
        std::memcpy(fused_bias.data<float>() + static_cast<int64_t>(i) * out_features_each, b.raw(), b.nbytes());
      }
    }
    *layer.packed_ = ops::pack_linear(weight, fused_bias, w.precision());
  }
  if (AdaptableLayers* adaptable = w.adaptable()) {
    std::vector<AdaptableLayers::Part> parts;
    bool merged = false;
    for (const auto& prefix : prefixes) {
      parts.push_back({prefix + ".weight", bias ? prefix + ".bias" : "", out_features_each});
      merged = merged || w.patched(prefix + ".weight") || (bias && w.patched(prefix + ".bias"));
    }
    adaptable->add_linear(std::move(parts), layer.packed_, w.precision(), merged);
  }
  return layer;
}

Linear Linear::from_tensors(const Tensor& weight, const Tensor& bias, ops::Precision precision) {
  Linear layer;
  if (!weight.defined()) return layer;
  layer.in_ = weight.dim(1);
  layer.out_ = weight.dim(0);
  *layer.packed_ = ops::pack_linear(weight, bias, precision);
  return layer;
}

Tensor Linear::operator()(Arena& arena, const Tensor& x) const { return ops::linear(arena, x, *packed_); }

void Linear::accumulate(const Tensor& x, Tensor& residual) const { ops::linear_accumulate(x, *packed_, residual); }

LayerNorm LayerNorm::bind(WeightBinder& w, const std::string& prefix, int64_t channels, float eps) {
  LayerNorm norm;
  norm.weight_ = to_f32(w.take(prefix + ".weight", Shape{channels}));
  norm.bias_ = to_f32(w.take(prefix + ".bias", Shape{channels}));
  norm.eps_ = eps;
  return norm;
}

Tensor LayerNorm::operator()(Arena& arena, const Tensor& x) const {
  return ops::layer_norm(arena, x, weight_, bias_, eps_);
}

}  // namespace sdxl::models

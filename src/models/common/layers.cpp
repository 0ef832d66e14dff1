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
  const Shape weight_shape{out_features_each, in_features}, bias_shape{out_features_each};
  for (const auto& prefix : prefixes) {
    w.expect(prefix + ".weight", weight_shape);
    if (bias) w.expect(prefix + ".bias", bias_shape);
  }
  if (!w.has_data()) return layer;
  *layer.packed_ = w.packed_linear(prefixes.front() + ".weight", layer.out_, in_features, bias, [&] {
    if (prefixes.size() == 1)
      return ops::pack_linear(w.take(prefixes[0] + ".weight", weight_shape),
                              bias ? w.take(prefixes[0] + ".bias", bias_shape) : Tensor(), w.precision());
    // Several projections as one: their rows (and biases) one after another.
    Tensor weight = Tensor::empty(Shape{layer.out_, in_features}, DType::F32);
    Tensor fused_bias = bias ? Tensor::empty(Shape{layer.out_}, DType::F32) : Tensor();
    for (size_t i = 0; i < prefixes.size(); ++i) {
      Tensor part = to_f32(w.take(prefixes[i] + ".weight", weight_shape));
      std::memcpy(weight.data<float>() + static_cast<int64_t>(i) * out_features_each * in_features, part.raw(), part.nbytes());
      if (bias) {
        Tensor b = to_f32(w.take(prefixes[i] + ".bias", bias_shape));
        std::memcpy(fused_bias.data<float>() + static_cast<int64_t>(i) * out_features_each, b.raw(), b.nbytes());
      }
    }
    return ops::pack_linear(weight, fused_bias, w.precision());
  });
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

Linear Linear::from_packed(ops::LinearWeights packed) {
  Linear layer;
  layer.in_ = packed.in_features();
  layer.out_ = packed.out_features();
  *layer.packed_ = std::move(packed);
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

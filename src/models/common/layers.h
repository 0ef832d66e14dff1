// The building blocks models are written in: each binds its parameters by checkpoint name
// (prefix + ".weight" / ".bias") and runs through ops.h. Layers hold f32 parameters, packed
// once at load; activations come from the caller's Arena.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/common/weights.h"
#include "ops.h"

namespace sdxl::models {

class Linear {
 public:
  Linear() = default;
  static Linear bind(WeightBinder& w, const std::string& prefix, int64_t in_features, int64_t out_features,
                     bool bias = true);
  // Several projections of the same input bound as one (q, k, v -> one GEMM): outputs are
  // concatenated along the last axis in the order given.
  static Linear bind_fused(WeightBinder& w, const std::vector<std::string>& prefixes, int64_t in_features,
                           int64_t out_features_each, bool bias = true);

  // A layer over weights packed already.
  static Linear from_packed(ops::LinearWeights packed);

  Tensor operator()(Arena& arena, const Tensor& x) const;      // [..., in] -> [..., out]
  void accumulate(const Tensor& x, Tensor& residual) const;    // residual += this(x)
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_ = 0, out_ = 0;
  // Shared with the model's AdaptableLayers, which may pack it again (a LoRA swap).
  std::shared_ptr<ops::LinearWeights> packed_ = std::make_shared<ops::LinearWeights>();
};

class LayerNorm {
 public:
  static LayerNorm bind(WeightBinder& w, const std::string& prefix, int64_t channels, float eps);
  Tensor operator()(Arena& arena, const Tensor& x) const;

 private:
  Tensor weight_, bias_;  // f32, owned
  float eps_ = 1e-5f;
};

// Converts a bound float tensor to an owned f32 copy (undefined stays undefined).
Tensor to_f32(const Tensor& t);

}  // namespace sdxl::models

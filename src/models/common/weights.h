// Binding a model's parameters by their checkpoint names. Model code asks for each tensor by
// name and expected shape; a WeightBinder answers from a weights file, from seeded random
// numbers (benchmarks of the real-size architecture), or only records what was asked (the
// real-size manifest checks).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/weight_set.h"
#include "ops.h"

namespace sdxl::models {

class AdaptableLayers;

// Packed layers kept between loads (the packed-weight cache: pipeline/sources/packed_layers.h).
// Layers are named by their first parameter ("....to_q.weight").
class PackedLayerStore {
 public:
  virtual ~PackedLayerStore() = default;
  // The layer's bytes as packed on an earlier load, or null.
  virtual const PackedImage* find(const std::string& name) const = 0;
  // A layer packed now (its bytes may be written out before this returns).
  virtual void keep(const std::string& name, const PackedImage& image) = 0;
  // The bytes find() gave were not what this machine packs for that layer (it was packed from the checkpoint).
  virtual void refuse(const std::string& name) = 0;
};

class WeightBinder {
 public:
  virtual ~WeightBinder() = default;
  // Checks that `name` exists with exactly `shape` and counts it as bound, without reading it: a
  // layer found in the packed-layer store takes nothing. Binders that check in take() need not.
  virtual void expect(const std::string& name, const Shape& shape) {}
  // The tensor `name` with exactly `shape`; throws naming both when it is missing or differs.
  // Without data (has_data() false) the result is undefined: layers then skip packing.
  virtual Tensor take(const std::string& name, const Shape& shape) = 0;
  virtual bool has_data() const = 0;
  // The arithmetic the bound layers are packed for (linears and convolutions).
  ops::Precision precision() const { return precision_; }
  void set_precision(ops::Precision precision) { precision_ = precision; }
  // Where bound linears and convolutions record themselves for later LoRA changes (none: not kept).
  AdaptableLayers* adaptable() const { return adaptable_; }
  void set_adaptable(AdaptableLayers* layers) { adaptable_ = layers; }
  // Whether `name` comes with a change applied (a LoRA merged as it is read).
  virtual bool patched(const std::string& name) const { return false; }
  // Where packed layers are found and kept between loads (none: every load packs).
  void set_packed_store(PackedLayerStore* store) { packed_store_ = store; }

  // The layer first named `name` (its parameters expect()ed): from the packed-layer store when
  // it holds it as this machine packs it, else made by `pack` (which takes the parameters) and
  // offered to the store.
  ops::LinearWeights packed_linear(const std::string& name, int64_t out_features, int64_t in_features, bool bias,
                                   const std::function<ops::LinearWeights()>& pack);
  ops::Conv2dWeights packed_conv2d(const std::string& name, const ops::Conv2dGeometry& geometry, bool bias,
                                   const std::function<ops::Conv2dWeights()>& pack);

 private:
  ops::Precision precision_ = ops::Precision::F32;
  AdaptableLayers* adaptable_ = nullptr;
  PackedLayerStore* packed_store_ = nullptr;
};

// From a component's safetensors files. finish() reports tensors the model never asked for:
// a config that does not match its weights shows up as missing, misshapen or unexpected tensors.
// A tensor's file pages leave memory when the model drops its view (after packing or
// converting it): the weights are not held twice.
class FileWeights : public WeightBinder {
 public:
  explicit FileWeights(const io::WeightSet& weights) : weights_(weights) {}
  void expect(const std::string& name, const Shape& shape) override;
  Tensor take(const std::string& name, const Shape& shape) override;
  bool has_data() const override { return true; }
  bool patched(const std::string& name) const override { return weights_.patch() && weights_.patch()->touches(name); }
  // Throws Format listing unused tensors, except names matching `ignored` suffixes (buffers
  // such as position_ids that checkpoints carry but models recompute).
  void finish(const std::vector<std::string>& ignored_suffixes = {}) const;

 private:
  const io::WeightSet& weights_;
  std::set<std::string> taken_;
};

// Records every requested (name, shape) without data.
class ShapeRecorder : public WeightBinder {
 public:
  void expect(const std::string& name, const Shape& shape) override { take(name, shape); }
  Tensor take(const std::string& name, const Shape& shape) override;
  bool has_data() const override { return false; }
  const std::map<std::string, Shape>& shapes() const { return shapes_; }

 private:
  std::map<std::string, Shape> shapes_;
};

// Random weights: norm scales (a 1-D "*norm*.weight") near one, as trained models have them,
// keep activations in a realistic range; everything else is small and centred on zero.
bool is_norm_scale(const std::string& name, const Shape& shape);

// Seeded uniform random weights of a given scale (the same seed and names give the same numbers),
// for measuring the real-size architecture without its checkpoint.
class RandomWeights : public WeightBinder {
 public:
  explicit RandomWeights(uint64_t seed, float scale = 0.02f) : seed_(seed), scale_(scale) {}
  Tensor take(const std::string& name, const Shape& shape) override;
  bool has_data() const override { return true; }

 private:
  uint64_t seed_;
  float scale_;
};

}  // namespace sdxl::models

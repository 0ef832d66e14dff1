// A loaded model's layers changed in place by a LoRA patch and restored: fused parts changed
// row by row, the originals back bit for bit (bf16 too), and the cases that cannot be done in
// place refused.
#include <gtest/gtest.h>

#include <map>

#include "models/common/adaptable_layers.h"
#include "random_tensor.h"

namespace sdxl::models {
namespace {

// Adds `amount` to every element of the tensors it names; says it is additive when told to (a
// LoRA's patch does, but for DoRA), so that both ways of changing a loaded layer are tried.
class AddPatch final : public io::TensorPatch {
 public:
  explicit AddPatch(std::map<std::string, float> amounts, bool additive = false)
      : amounts_(std::move(amounts)), additive_(additive) {}
  bool touches(const std::string& name) const override { return amounts_.count(name) > 0; }
  bool additive(const std::string&) const override { return additive_; }
  Tensor apply(const std::string& name, const Tensor& stored) const override {
    Tensor out = stored.to(DType::F32);
    for (int64_t i = 0; i < out.numel(); ++i) out.data<float>()[i] += amounts_.at(name);
    return out;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> n;
    for (const auto& [name, amount] : amounts_) n.push_back(name);
    return n;
  }

 private:
  std::map<std::string, float> amounts_;
  bool additive_;
};

std::vector<float> values(const Tensor& t) { return {t.data<float>(), t.data<float>() + t.numel()}; }

TEST(AdaptableLayers, FusedPartsChangeAndComeBackExactly) {
  for (ops::Precision precision : {ops::Precision::F32, ops::Precision::BF16}) {
    const Tensor weight = test::random_tensor(Shape{6, 4}, 1), bias = test::random_tensor(Shape{6}, 2);
    auto slot = std::make_shared<ops::LinearWeights>(ops::pack_linear(weight, bias, precision));
    const ops::UnpackedWeights loaded = ops::unpack_linear(*slot);
    AdaptableLayers layers;
    layers.add_linear({{"q.weight", "q.bias", 3}, {"k.weight", "k.bias", 3}}, slot, precision, false);
    const AddPatch k_only({{"k.weight", 0.5f}, {"k.bias", 0.25f}});
    ASSERT_TRUE(layers.can_adapt(&k_only));
    layers.adapt(&k_only);
    EXPECT_EQ(layers.changed(), 1u);
    const ops::UnpackedWeights changed = ops::unpack_linear(*slot);
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t c = 0; c < 4; ++c) {
        const float before = loaded.weight.data<float>()[r * 4 + c], after = changed.weight.data<float>()[r * 4 + c];
        if (r < 3) EXPECT_EQ(after, before);                   // q untouched
        else EXPECT_NEAR(after, before + 0.5f, 0.02f) << r;  // k moved (bf16: rounded again)
      }
    EXPECT_EQ(changed.bias.data<float>()[4], loaded.bias.data<float>()[4] + 0.25f);
    // Another patch starts from the originals, not from the changed weights.
    const AddPatch q_only({{"q.weight", 1.0f}});
    layers.adapt(&q_only);
    const ops::UnpackedWeights other = ops::unpack_linear(*slot);
    EXPECT_EQ(other.weight.data<float>()[20], loaded.weight.data<float>()[20]);  // k back
    // No patch: the loaded layer itself, bit for bit.
    layers.adapt(nullptr);
    EXPECT_EQ(layers.changed(), 0u);
    EXPECT_EQ(values(ops::unpack_linear(*slot).weight), values(loaded.weight));
    EXPECT_EQ(values(ops::unpack_linear(*slot).bias), values(loaded.bias));
  }
}

// An additive change is added to the packed values without unpacking them: the same layer, bit
// for bit, as unpacking, changing and packing again (bf16 rounds the f32 sum once either way).
TEST(AdaptableLayers, AdditiveChangesEqualUnpackedOnes) {
  for (ops::Precision precision : {ops::Precision::F32, ops::Precision::BF16}) {
    const Tensor weight = test::random_tensor(Shape{48, 40}, 4), bias = test::random_tensor(Shape{48}, 5);
    std::vector<float> results[2][2];
    for (const bool additive : {false, true}) {
      auto slot = std::make_shared<ops::LinearWeights>(ops::pack_linear(weight, bias, precision));
      AdaptableLayers layers;
      layers.add_linear({{"q.weight", "q.bias", 16}, {"k.weight", "k.bias", 16}, {"v.weight", "v.bias", 16}}, slot,
                        precision, false);
      const AddPatch patch({{"k.weight", 0.03f}, {"v.weight", -0.02f}, {"v.bias", 0.5f}}, additive);
      layers.adapt(&patch);
      results[additive][0] = values(ops::unpack_linear(*slot).weight);
      results[additive][1] = values(ops::unpack_linear(*slot).bias);
    }
    EXPECT_EQ(results[true][0], results[false][0]);
    EXPECT_EQ(results[true][1], results[false][1]);
  }
}

// A LoRA swapped for another is written into the memory the first one's layer has, and a layer
// taken back to its original keeps that memory for the next LoRA: after the first, changes fault
// in no fresh pages. The values are what a layer changed once from its original has.
TEST(AdaptableLayers, SwapsWriteIntoMemoryTheLayerAlreadyHas) {
  for (ops::Precision precision : {ops::Precision::F32, ops::Precision::BF16}) {
    for (const int64_t rows : {int64_t{48}, int64_t{1280}}) {  // f32 layers are oneDNN unless SDXL_GEMM=openblas
      SCOPED_TRACE(testing::Message() << "rows " << rows << (precision == ops::Precision::BF16 ? " bf16" : " f32"));
      const Tensor weight = test::random_tensor(Shape{rows, 40}, 6), bias = test::random_tensor(Shape{rows}, 7);
      auto changed_once = [&](const io::TensorPatch& patch) {
        auto fresh = std::make_shared<ops::LinearWeights>(ops::pack_linear(weight, bias, precision));
        AdaptableLayers one;
        one.add_linear({{"w.weight", "w.bias", rows}}, fresh, precision, false);
        one.adapt(&patch);
        return std::pair{values(ops::unpack_linear(*fresh).weight), values(ops::unpack_linear(*fresh).bias)};
      };
      auto slot = std::make_shared<ops::LinearWeights>(ops::pack_linear(weight, bias, precision));
      const void* loaded_memory = ops::packed_image(*slot).parts[0].data;
      AdaptableLayers layers;
      layers.add_linear({{"w.weight", "w.bias", rows}}, slot, precision, false);
      const AddPatch a({{"w.weight", 0.03f}}, true), b({{"w.weight", -0.05f}}, true);
      auto now = [&] { return std::pair{values(ops::unpack_linear(*slot).weight), values(ops::unpack_linear(*slot).bias)}; };

      layers.adapt(&a);
      const void* changed_memory = ops::packed_image(*slot).parts[0].data;
      EXPECT_NE(changed_memory, loaded_memory);  // the original is kept aside
      EXPECT_EQ(now(), changed_once(a));
      layers.adapt(&b);
      EXPECT_EQ(ops::packed_image(*slot).parts[0].data, changed_memory);
      EXPECT_EQ(now(), changed_once(b));
      layers.adapt(nullptr);
      EXPECT_EQ(ops::packed_image(*slot).parts[0].data, loaded_memory);
      EXPECT_EQ(values(ops::unpack_linear(*slot).weight),
                values(ops::unpack_linear(ops::pack_linear(weight, bias, precision)).weight));
      EXPECT_EQ(layers.spares(), 1u);
      layers.adapt(&a);
      EXPECT_EQ(ops::packed_image(*slot).parts[0].data, changed_memory);
      EXPECT_EQ(layers.spares(), 0u);
      EXPECT_EQ(now(), changed_once(a));
      // A change made by unpacking (not additive) makes its own layer: the spare is not kept beside it.
      layers.adapt(nullptr);
      EXPECT_EQ(layers.spares(), 1u);
      const AddPatch unpacked({{"w.weight", 0.04f}}, false);
      layers.adapt(&unpacked);
      EXPECT_EQ(layers.spares(), 0u);
      EXPECT_EQ(now(), changed_once(unpacked));
    }
  }
}

TEST(AdaptableLayers, ConvolutionsToo) {
  const Tensor weight = test::random_tensor(Shape{4, 3, 3, 3}, 3);
  auto slot = std::make_shared<ops::Conv2dWeights>(ops::pack_conv2d(weight, Tensor(), 1, 1));
  AdaptableLayers layers;
  layers.add_conv2d({"conv.weight", "", 4}, slot, ops::Precision::F32, false);
  const AddPatch patch({{"conv.weight", 2.0f}});
  layers.adapt(&patch);
  EXPECT_EQ(ops::unpack_conv2d(*slot).weight.data<float>()[7], weight.data<float>()[7] + 2.0f);
  EXPECT_FALSE(ops::unpack_conv2d(*slot).bias.defined());
  layers.adapt(nullptr);
  EXPECT_EQ(values(ops::unpack_conv2d(*slot).weight), values(weight));
}

TEST(AdaptableLayers, RefusesWhatCannotBeDoneInPlace) {
  auto slot = std::make_shared<ops::LinearWeights>(ops::pack_linear(test::random_tensor(Shape{2, 2}, 4), Tensor()));
  AdaptableLayers layers;
  layers.add_linear({{"a.weight", "", 2}}, slot, ops::Precision::F32, false);
  const AddPatch elsewhere({{"norm.weight", 1.0f}});
  EXPECT_FALSE(layers.can_adapt(&elsewhere));  // a tensor no recorded layer holds
  EXPECT_TRUE(layers.can_adapt(nullptr));
  AdaptableLayers merged;
  merged.add_linear({{"a.weight", "", 2}}, slot, ops::Precision::F32, true);
  EXPECT_FALSE(merged.can_adapt(nullptr));  // its plain weights are not in memory
}

}  // namespace
}  // namespace sdxl::models

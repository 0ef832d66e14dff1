#include "pipeline/sources/lora_source.h"

#include "io/model_configs.h"

namespace sdxl::pipeline {
namespace {

class LoraSource final : public ModelSource {
 public:
  LoraSource(std::shared_ptr<const ModelSource> base, std::shared_ptr<const lora::LoraSet> loras)
      : base_(std::move(base)), loras_(std::move(loras)) {}
  const std::filesystem::path& location() const override { return base_->location(); }
  const io::PipelineIndex& index() const override { return base_->index(); }
  const nlohmann::json& config(const std::string& component) const override { return base_->config(component); }
  std::string config_origin(const std::string& component) const override { return base_->config_origin(component); }
  io::WeightSet weights(const std::string& component) const override {
    io::WeightSet weights = base_->weights(component);
    auto patch = loras_->patch(component);
    return patch ? weights.patched(std::move(patch)) : weights;
  }
  std::shared_ptr<const io::TensorPatch> patch(const std::string& component) const override {
    return loras_->patch(component);
  }
  std::filesystem::path tokenizer_dir(const std::string& component) const override {
    return base_->tokenizer_dir(component);
  }
  std::filesystem::path tokenizer_vocab_dir(const std::string& component) const override {
    return base_->tokenizer_vocab_dir(component);
  }

 private:
  std::shared_ptr<const ModelSource> base_;
  std::shared_ptr<const lora::LoraSet> loras_;
};

}  // namespace

lora::ModelLayers adaptable_layers(const ModelSource& source) {
  lora::ModelLayers layers;
  for (const char* component : {"unet", "text_encoder", "text_encoder_2"}) {
    if (!source.has(component)) continue;
    const io::WeightSet weights = source.weights(component);
    auto& shapes = layers.components[component];
    for (const auto& name : weights.names()) shapes[name] = weights.record(name)->shape;
  }
  layers.unet_layout = io::unet_layout(io::parse_unet_config(source.config("unet"), source.config_origin("unet")));
  return layers;
}

std::shared_ptr<const ModelSource> with_loras(std::shared_ptr<const ModelSource> base,
                                              const std::vector<lora::LoraSpec>& loras) {
  if (loras.empty()) return base;
  auto set = lora::LoraSet::load(loras, adaptable_layers(*base));
  return std::make_shared<LoraSource>(std::move(base), std::move(set));
}

}  // namespace sdxl::pipeline

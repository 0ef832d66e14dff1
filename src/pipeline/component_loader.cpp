#include "pipeline/component_loader.h"

#include "core/log.h"

namespace sdxl::pipeline {

models::ClipTextModel load_text_encoder(const io::PipelineFolder& folder, const std::string& component,
                                        ops::Precision precision) {
  io::ClipTextConfig config = io::load_clip_text_config(folder.config_path(component));
  io::WeightSet weights = folder.open_weights(component);
  models::FileWeights binder(weights);
  binder.set_precision(precision);
  models::ClipTextModel model = models::ClipTextModel::load(config, binder);
  binder.finish(models::ClipTextModel::ignored_tensors());
  log_info("[model] loaded ", component, " (", config.architecture, ", ", config.num_hidden_layers, " layers)");
  return model;
}

models::UNet2DConditionModel load_unet(const io::PipelineFolder& folder, const std::string& component,
                                       ops::Precision precision) {
  io::UNetConfig config = io::load_unet_config(folder.config_path(component));
  io::WeightSet weights = folder.open_weights(component);
  models::FileWeights binder(weights);
  binder.set_precision(precision);
  models::UNet2DConditionModel model = models::UNet2DConditionModel::load(config, binder);
  binder.finish();
  log_info("[model] loaded ", component, " (", config.levels(), " levels)");
  return model;
}

models::AutoencoderKL load_vae(const io::PipelineFolder& folder, const std::string& component,
                               ops::Precision precision) {
  io::VaeConfig config = io::load_vae_config(folder.config_path(component));
  io::WeightSet weights = folder.open_weights(component);
  models::FileWeights binder(weights);
  binder.set_precision(config.force_upcast ? ops::Precision::F32 : precision);
  models::AutoencoderKL model = models::AutoencoderKL::load(config, binder);
  binder.finish();
  log_info("[model] loaded ", component);
  return model;
}

}  // namespace sdxl::pipeline

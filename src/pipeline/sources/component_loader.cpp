#include "pipeline/sources/component_loader.h"

#include "core/log.h"
#include "core/memory.h"
#include "io/tensor_file.h"
#include "io/json_file.h"

namespace sdxl::pipeline {
namespace {

// Binds a model's weights from a component's files, then checks nothing is left unexplained.
template <typename Model, typename Config>
Model bind_component(const ModelSource& source, const std::string& component, const Config& config,
                     ops::Precision precision, const std::vector<std::string>& ignored = {},
                     models::AdaptableLayers* adaptable = nullptr, const PackedCacheSettings* cache = nullptr) {
  io::WeightSet weights = source.weights(component);
  models::FileWeights binder(weights);
  binder.set_precision(precision);
  if (adaptable) adaptable->clear();
  binder.set_adaptable(adaptable);
  std::optional<PackedLayers> packed;
  if (cache && !cache->dir.empty())
    if (auto key = packed_cache_key(component, source.config(component), weights, precision)) {
      packed.emplace(*cache, std::move(*key));
      binder.set_packed_store(&*packed);
    }
  Model model = Model::load(config, binder);
  binder.finish(ignored);
  if (packed) packed->finish();
  return_free_memory_to_system();  // the conversion and packing temporaries
  return model;
}

}  // namespace

models::ClipTextModel load_text_encoder(const ModelSource& source, const std::string& component,
                                        ops::Precision precision, models::AdaptableLayers* adaptable,
                                        const PackedCacheSettings* cache) {
  io::ClipTextConfig config = io::parse_clip_text_config(source.config(component), source.config_origin(component));
  auto model = bind_component<models::ClipTextModel>(source, component, config, precision,
                                                     models::ClipTextModel::ignored_tensors(), adaptable, cache);
  log_info("[model] loaded ", component, " (", config.architecture, ", ", config.num_hidden_layers, " layers)");
  return model;
}

models::UNet2DConditionModel load_unet(const ModelSource& source, const std::string& component,
                                       ops::Precision precision, models::AdaptableLayers* adaptable,
                                       const PackedCacheSettings* cache) {
  io::UNetConfig config = io::parse_unet_config(source.config(component), source.config_origin(component));
  auto model = bind_component<models::UNet2DConditionModel>(source, component, config, precision, {}, adaptable, cache);
  log_info("[model] loaded ", component, " (", config.levels(), " levels)");
  return model;
}

ops::Precision vae_precision(const io::VaeConfig& config, ops::Precision precision) {
  return config.force_upcast ? ops::Precision::F32 : precision;
}

models::AutoencoderKL load_vae(const ModelSource& source, const std::string& component,
                               ops::Precision precision, const PackedCacheSettings* cache) {
  io::VaeConfig config = io::parse_vae_config(source.config(component), source.config_origin(component));
  auto model = bind_component<models::AutoencoderKL>(source, component, config, vae_precision(config, precision), {},
                                                     nullptr, cache);
  log_info("[model] loaded ", component);
  return model;
}

models::AutoencoderTiny load_tiny_autoencoder(const std::filesystem::path& dir, ops::Precision precision) {
  std::error_code ec;
  SDXL_CHECK(std::filesystem::is_directory(dir, ec), Io, "[taesd] ", dir.string(),
             ": not a directory (expected an AutoencoderTiny folder, as madebyollin/taesdxl)");
  const auto config_path = dir / "config.json";
  SDXL_CHECK(std::filesystem::exists(config_path, ec), Io, "[taesd] ", dir.string(), ": no config.json");
  const auto config = io::parse_tiny_autoencoder_config(io::read_json_object(config_path, "config"), config_path.string());
  std::vector<std::filesystem::path> files;
  for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"})
    if (std::filesystem::exists(dir / name, ec)) {
      files.push_back(dir / name);
      break;
    }
  SDXL_CHECK(!files.empty(), Io, "[taesd] ", dir.string(), ": no diffusion_pytorch_model(.fp16).safetensors");
  io::WeightSet weights = io::open_weight_set("taesd", files);
  models::FileWeights binder(weights);
  binder.set_precision(precision);  // no force_upcast: AutoencoderTiny runs in the pipeline's precision
  auto model = models::AutoencoderTiny::load(config, binder);
  binder.finish({});
  log_info("[model] loaded the tiny autoencoder ", dir.string());
  return model;
}

std::vector<std::filesystem::path> diffusers_weight_files(const std::filesystem::path& model, const char* stage) {
  namespace fs = std::filesystem;
  std::error_code ec;
  SDXL_CHECK(fs::exists(model, ec), Io, "[", stage, "] ", model.string(), ": no such file or folder");
  if (!fs::is_directory(model, ec)) {
    SDXL_CHECK(io::is_weights_file_name(model), Format, "[", stage, "] ", model.string(),
               ": not a weights file (.safetensors, .pth, .ckpt, .pt, .bin)");
    return {model};
  }
  for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                           "diffusion_pytorch_model.bin"})
    if (fs::exists(model / name, ec)) return {model / name};
  fail(ErrorCode::Io, "[", stage, "] ", model.string(), ": no diffusion_pytorch_model(.fp16).safetensors or .bin");
}

double packed_weights_gib(const io::WeightSet& weights, ops::Precision precision) {
  double values = 0;
  for (const auto& name : weights.names()) values += static_cast<double>(weights.record(name)->shape.numel());
  return values * (precision == ops::Precision::BF16 ? 2.0 : 4.0) / (1024.0 * 1024.0 * 1024.0);
}

}  // namespace sdxl::pipeline

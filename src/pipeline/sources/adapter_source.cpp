#include "pipeline/sources/adapter_source.h"

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/memory.h"
#include "io/json_file.h"
#include "models/common/weights.h"
#include "pipeline/sources/component_loader.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;

fs::path config_beside(const fs::path& model) {
  std::error_code ec;
  return fs::is_directory(model, ec) ? model / "config.json" : model.parent_path() / "config.json";
}

}  // namespace

nlohmann::json t2i_adapter_config_from_tensors(const io::WeightSet& w) {
  const io::TensorRecord* conv_in = w.record("adapter.conv_in.weight");
  SDXL_CHECK(conv_in && conv_in->shape.rank() == 4, Format, "[t2i-adapter] ", w.component(),
             ": no adapter.conv_in.weight: not a T2I-Adapter in diffusers' tensor names");
  nlohmann::json c;
  c["_class_name"] = "T2IAdapter";
  c["adapter_type"] = "full_adapter_xl";
  std::vector<int64_t> channels;
  for (int i = 0; i < 4; ++i) {
    const io::TensorRecord* r = w.record("adapter.body." + std::to_string(i) + ".resnets.0.block1.weight");
    SDXL_CHECK(r, Format, "[t2i-adapter] ", w.component(), ": no adapter.body.", i,
               ".resnets.0.block1.weight (an SDXL full_adapter_xl has four blocks)");
    channels.push_back(r->shape[0]);
  }
  SDXL_CHECK(!w.has("adapter.body.4.resnets.0.block1.weight"), Format, "[t2i-adapter] ", w.component(),
             ": more than four adapter blocks: an SD 1.5 T2I-Adapter? SDXL's full_adapter_xl has four");
  int64_t blocks = 0;
  while (w.has("adapter.body.0.resnets." + std::to_string(blocks) + ".block1.weight")) ++blocks;
  const int64_t unshuffled = conv_in->shape[1];
  const auto factor = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(unshuffled) / 3.0)));
  SDXL_CHECK(factor > 0 && 3 * factor * factor == unshuffled, Format, "[t2i-adapter] ", w.component(), ": conv_in takes ",
             unshuffled, " channels, not 3 x a square (an RGB image unshuffled)");
  c["channels"] = channels;
  c["num_res_blocks"] = blocks;
  c["downscale_factor"] = factor;
  c["in_channels"] = 3;
  return c;
}

std::shared_ptr<const models::T2IAdapter> load_t2i_adapter(const fs::path& model, ops::Precision precision) {
  std::error_code ec;
  const std::vector<fs::path> files = diffusers_weight_files(model, "t2i-adapter");
  io::WeightSet weights = io::open_weight_set("t2i-adapter", files);
  const fs::path config_file = config_beside(model);
  io::T2IAdapterConfig config;
  if (fs::exists(config_file, ec)) {
    config = io::parse_t2i_adapter_config(io::read_json_object(config_file, "t2i-adapter"), config_file.string());
  } else {
    config = io::parse_t2i_adapter_config(t2i_adapter_config_from_tensors(weights), model.string() + " (from its tensors)");
  }
  models::FileWeights binder(weights);
  binder.set_precision(precision);
  auto adapter = std::make_shared<models::T2IAdapter>(models::T2IAdapter::load(config, binder));
  binder.finish({});
  return_free_memory_to_system();
  log_info("[t2i-adapter] loaded ", model.string());
  return adapter;
}

double t2i_adapter_weights_gib(const fs::path& model, ops::Precision precision) {
  return packed_weights_gib(io::open_weight_set("t2i-adapter", diffusers_weight_files(model, "t2i-adapter")), precision);
}

bool is_t2i_adapter(const fs::path& model) {
  std::error_code ec;
  const fs::path config_file = config_beside(model);
  if (fs::is_directory(model, ec) && fs::exists(config_file, ec)) {
    const nlohmann::json config = io::read_json_object(config_file, "control model");
    return config.value("_class_name", std::string()) == "T2IAdapter";
  }
  if (!fs::is_directory(model, ec) && model.extension() == ".safetensors" && fs::exists(model, ec)) {
    const io::WeightSet weights = io::open_weight_set("control model", {model});
    return weights.has("adapter.conv_in.weight");
  }
  return false;
}

}  // namespace sdxl::pipeline

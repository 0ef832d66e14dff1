#include "pipeline/sources/controlnet_source.h"

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

int64_t dim_of(const io::WeightSet& w, const std::string& name, size_t axis) {
  const io::TensorRecord* r = w.record(name);
  SDXL_CHECK(r && static_cast<size_t>(r->shape.rank()) > axis, Format, "[controlnet] ", w.component(), ": no tensor ", name,
             " to read the architecture from (is this an SDXL ControlNet in diffusers' names?)");
  return r->shape[axis];
}

int64_t count_prefixed(const io::WeightSet& w, const std::string& prefix, const std::string& suffix) {
  int64_t n = 0;
  while (w.has(prefix + std::to_string(n) + suffix)) ++n;
  return n;
}

}  // namespace

nlohmann::json controlnet_config_from_tensors(const io::WeightSet& w, const io::UNetConfig* unet) {
  nlohmann::json c;
  c["_class_name"] = "ControlNetModel";
  const int64_t levels = count_prefixed(w, "down_blocks.", ".resnets.0.conv1.weight");
  SDXL_CHECK(levels > 0, Format, "[controlnet] ", w.component(),
             ": no down_blocks.N.resnets.0.conv1.weight: not a ControlNet in diffusers' tensor names");
  std::vector<int64_t> channels, depth, heads;
  std::vector<std::string> types;
  int64_t cross_dim = 0;
  bool linear_projection = true;
  for (int64_t i = 0; i < levels; ++i) {
    const std::string p = "down_blocks." + std::to_string(i);
    channels.push_back(dim_of(w, p + ".resnets.0.conv1.weight", 0));
    heads.push_back(std::max<int64_t>(channels.back() / 64, 1));  // SDXL's head size
    const bool cross = w.has(p + ".attentions.0.proj_in.weight");
    types.push_back(cross ? "CrossAttnDownBlock2D" : "DownBlock2D");
    depth.push_back(cross ? count_prefixed(w, p + ".attentions.0.transformer_blocks.", ".attn1.to_q.weight") : 1);
    if (cross) {
      cross_dim = dim_of(w, p + ".attentions.0.transformer_blocks.0.attn2.to_k.weight", 1);
      linear_projection = w.record(p + ".attentions.0.proj_in.weight")->shape.rank() == 2;
    }
  }
  SDXL_CHECK(cross_dim > 0, Format, "[controlnet] ", w.component(), ": no cross-attention block to read the text width from");
  c["block_out_channels"] = channels;
  c["down_block_types"] = types;
  c["layers_per_block"] = count_prefixed(w, "down_blocks.0.resnets.", ".conv1.weight");
  c["transformer_layers_per_block"] = depth;
  const bool like_unet = unet && unet->block_out_channels == channels;
  c["attention_head_dim"] = like_unet ? unet->num_attention_heads : heads;
  c["cross_attention_dim"] = cross_dim;
  c["use_linear_projection"] = linear_projection;
  c["in_channels"] = dim_of(w, "conv_in.weight", 1);
  c["norm_num_groups"] = 32;
  if (w.has("add_embedding.linear_1.weight")) {
    c["addition_embed_type"] = "text_time";
    c["addition_time_embed_dim"] = like_unet ? unet->addition_time_embed_dim : 256;  // SDXL's
    c["projection_class_embeddings_input_dim"] = dim_of(w, "add_embedding.linear_1.weight", 1);
  }
  std::vector<int64_t> embedding{dim_of(w, "controlnet_cond_embedding.conv_in.weight", 0)};
  for (int64_t k = 1; w.has("controlnet_cond_embedding.blocks." + std::to_string(k) + ".weight"); k += 2)
    embedding.push_back(dim_of(w, "controlnet_cond_embedding.blocks." + std::to_string(k) + ".weight", 0));
  c["conditioning_embedding_out_channels"] = embedding;
  c["conditioning_channels"] = dim_of(w, "controlnet_cond_embedding.conv_in.weight", 1);
  return c;
}


double controlnet_weights_gib(const fs::path& model, ops::Precision precision) {
  return packed_weights_gib(io::open_weight_set("controlnet", diffusers_weight_files(model, "controlnet")), precision);
}

std::shared_ptr<const models::ControlNetModel> load_controlnet(const fs::path& model, const fs::path& config_dir,
                                                               ops::Precision precision, const io::UNetConfig* unet) {
  std::error_code ec;
  const std::vector<fs::path> files = diffusers_weight_files(model, "controlnet");
  fs::path config_file = fs::is_directory(model, ec) ? model / "config.json" : model.parent_path() / "config.json";
  if (!config_dir.empty()) {
    config_file = fs::is_directory(config_dir, ec) ? config_dir / "config.json" : config_dir;
    SDXL_CHECK(fs::exists(config_file, ec), Io, "[controlnet] ", config_file.string(), ": no such file");
  }
  io::WeightSet weights = io::open_weight_set("controlnet", files);
  io::ControlNetConfig config;
  if (fs::exists(config_file, ec)) {
    config = io::parse_controlnet_config(io::read_json_object(config_file, "controlnet"), config_file.string());
  } else {
    config = io::parse_controlnet_config(controlnet_config_from_tensors(weights, unet), model.string() + " (from its tensors)");
    log_info("[controlnet] ", model.string(), ": no config.json, the architecture read from the tensors");
  }
  models::FileWeights binder(weights);
  binder.set_precision(precision);
  auto net = std::make_shared<models::ControlNetModel>(models::ControlNetModel::load(config, binder));
  binder.finish({});
  return_free_memory_to_system();
  log_info("[controlnet] loaded ", model.string(), " (", config.unet.levels(), " levels)");
  return net;
}

}  // namespace sdxl::pipeline

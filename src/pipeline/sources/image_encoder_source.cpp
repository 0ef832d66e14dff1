#include "pipeline/sources/image_encoder_source.h"

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/memory.h"
#include "io/tensor_file.h"
#include "io/clip_vision_config.h"
#include "io/json_file.h"
#include "models/common/weights.h"
#include "pipeline/sources/component_loader.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> encoder_files(const fs::path& model) {
  std::error_code ec;
  SDXL_CHECK(fs::exists(model, ec), Io, "[image-encoder] ", model.string(), ": no such file or folder");
  if (!fs::is_directory(model, ec)) {
    SDXL_CHECK(io::is_weights_file_name(model), Format, "[image-encoder] ", model.string(),
               ": not a weights file (.safetensors, .bin, .pth, .pt, .ckpt)");
    return {model};
  }
  for (const char* name : {"model.safetensors", "model.fp16.safetensors", "pytorch_model.bin"})
    if (fs::exists(model / name, ec)) return {model / name};
  fail(ErrorCode::Io, "[image-encoder] ", model.string(), ": no model(.fp16).safetensors (an image_encoder folder of transformers)");
}

bool is_open_clip(const io::WeightSet& w) { return w.has("visual.conv1.weight"); }

// open_clip's names bound as transformers' (the model binds transformers' names): q, k and v are
// row blocks of in_proj, and visual.proj [width, dim] is the projection's transposed weight.
class OpenClipVisionWeights : public models::WeightBinder {
 public:
  explicit OpenClipVisionWeights(models::FileWeights& file) : file_(file) {}
  bool has_data() const override { return true; }

  Tensor take(const std::string& name, const Shape& shape) override {
    static const std::string layers = "vision_model.encoder.layers.";
    if (name == "visual_projection.weight") {
      const Tensor proj = models::to_f32(file_.take("visual.proj", Shape{shape[1], shape[0]}));
      Tensor t = Tensor::empty(shape, DType::F32);
      for (int64_t i = 0; i < shape[0]; ++i)
        for (int64_t j = 0; j < shape[1]; ++j) t.data<float>()[i * shape[1] + j] = proj.data<float>()[j * shape[0] + i];
      return t;
    }
    if (name.rfind(layers, 0) == 0) {
      const size_t dot = name.find('.', layers.size());
      const std::string index = name.substr(layers.size(), dot - layers.size());
      const std::string field = name.substr(dot + 1);
      const std::string block = "visual.transformer.resblocks." + index + ".";
      for (int part = 0; part < 3; ++part) {
        const std::string proj = std::string("self_attn.") + "qkv"[part] + "_proj.";
        if (field == proj + "weight" || field == proj + "bias") {
          const bool weight = field.back() == 't';
          const int64_t width = shape[0];
          const Tensor fused = weight ? in_proj(block + "attn.in_proj_weight", Shape{3 * width, shape[1]})
                                      : in_proj(block + "attn.in_proj_bias", Shape{3 * width});
          return fused.slice_rows(part * width, width);
        }
      }
      static const std::map<std::string, std::string> names{
          {"layer_norm1.weight", "ln_1.weight"},         {"layer_norm1.bias", "ln_1.bias"},
          {"layer_norm2.weight", "ln_2.weight"},         {"layer_norm2.bias", "ln_2.bias"},
          {"self_attn.out_proj.weight", "attn.out_proj.weight"}, {"self_attn.out_proj.bias", "attn.out_proj.bias"},
          {"mlp.fc1.weight", "mlp.c_fc.weight"},         {"mlp.fc1.bias", "mlp.c_fc.bias"},
          {"mlp.fc2.weight", "mlp.c_proj.weight"},       {"mlp.fc2.bias", "mlp.c_proj.bias"}};
      const auto it = names.find(field);
      SDXL_CHECK(it != names.end(), Internal, "[image-encoder] no open_clip name for ", name);
      return file_.take(block + it->second, shape);
    }
    static const std::map<std::string, std::string> names{
        {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"},
        {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
        {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"},
        {"vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"},
        {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"},
        {"vision_model.post_layernorm.weight", "visual.ln_post.weight"},
        {"vision_model.post_layernorm.bias", "visual.ln_post.bias"}};
    const auto it = names.find(name);
    SDXL_CHECK(it != names.end(), Internal, "[image-encoder] no open_clip name for ", name);
    return file_.take(it->second, shape);
  }

 private:
  Tensor in_proj(const std::string& name, const Shape& shape) {
    auto it = fused_.find(name);
    if (it == fused_.end()) it = fused_.emplace(name, file_.take(name, shape)).first;
    return it->second;
  }
  models::FileWeights& file_;
  std::map<std::string, Tensor> fused_;
};

const io::TensorRecord& record_of(const io::WeightSet& w, const std::string& name) {
  const io::TensorRecord* r = w.record(name);
  SDXL_CHECK(r, Format, "[image-encoder] ", w.component(), ": no tensor ", name,
             " (is this a CLIP vision model in transformers' or open_clip's names?)");
  return *r;
}

}  // namespace

nlohmann::json image_encoder_config_from_tensors(const io::WeightSet& w) {
  const bool oc = is_open_clip(w);
  const std::string conv = oc ? "visual.conv1.weight" : "vision_model.embeddings.patch_embedding.weight";
  if (!w.has(conv))
    fail(ErrorCode::Format, "[image-encoder] ", w.component(),
         ": neither vision_model.* (transformers) nor visual.* (open_clip) tensors: not a CLIP image encoder");
  const io::TensorRecord& patch = record_of(w, conv);
  const int64_t width = patch.shape[0], patch_size = patch.shape[2];
  const io::TensorRecord& positions =
      record_of(w, oc ? "visual.positional_embedding" : "vision_model.embeddings.position_embedding.weight");
  const auto grid = static_cast<int64_t>(std::lround(std::sqrt(static_cast<double>(positions.shape[0] - 1))));
  SDXL_CHECK(grid * grid + 1 == positions.shape[0], Format, "[image-encoder] ", w.component(), ": ", positions.shape[0],
             " positions are not a square grid and a class token");
  int64_t layers = 0;
  const std::string layer_prefix = oc ? "visual.transformer.resblocks." : "vision_model.encoder.layers.";
  const std::string probe = oc ? ".ln_1.weight" : ".layer_norm1.weight";
  while (w.has(layer_prefix + std::to_string(layers) + probe)) ++layers;
  const io::TensorRecord& fc1 = record_of(w, layer_prefix + "0" + (oc ? ".mlp.c_fc.weight" : ".mlp.fc1.weight"));
  const io::TensorRecord& proj = record_of(w, oc ? "visual.proj" : "visual_projection.weight");
  nlohmann::json c;
  c["architectures"] = {"CLIPVisionModelWithProjection"};
  c["model_type"] = "clip_vision_model";
  c["hidden_size"] = width;
  c["intermediate_size"] = fc1.shape[0];
  c["num_hidden_layers"] = layers;
  c["num_attention_heads"] = (width == 1024 || width == 1280 || width == 1664) ? 16 : std::max<int64_t>(width / 64, 1);
  c["patch_size"] = patch_size;
  c["image_size"] = grid * patch_size;
  c["projection_dim"] = oc ? proj.shape[1] : proj.shape[0];
  c["hidden_act"] = "gelu";  // open_clip's ViT-H/14 and bigG/14 (IP-Adapter's encoders)
  c["layer_norm_eps"] = 1e-5;
  return c;
}

std::shared_ptr<const models::ClipVisionModel> load_image_encoder(const fs::path& model, ops::Precision precision) {
  std::error_code ec;
  const std::vector<fs::path> files = encoder_files(model);
  io::WeightSet weights = io::open_weight_set("image-encoder", files);
  const fs::path config_file = fs::is_directory(model, ec) ? model / "config.json" : model.parent_path() / "config.json";
  io::ClipVisionConfig config;
  bool from_file = false;
  if (fs::exists(config_file, ec)) {
    const nlohmann::json json = io::read_json_object(config_file, "image-encoder");
    // A config.json beside a single file may belong to something else (a folder of many models).
    from_file = fs::is_directory(model, ec) || json.value("model_type", std::string()) == "clip_vision_model";
    if (from_file) config = io::parse_clip_vision_config(json, config_file.string());
  }
  if (!from_file)
    config = io::parse_clip_vision_config(image_encoder_config_from_tensors(weights), model.string() + " (from its tensors)");
  models::FileWeights file(weights);
  file.set_precision(precision);
  std::shared_ptr<models::ClipVisionModel> encoder;
  if (is_open_clip(weights)) {
    OpenClipVisionWeights renamed(file);
    renamed.set_precision(precision);
    encoder = std::make_shared<models::ClipVisionModel>(models::ClipVisionModel::load(config, renamed));
  } else {
    encoder = std::make_shared<models::ClipVisionModel>(models::ClipVisionModel::load(config, file));
  }
  // Every tensor must be the encoder's: a whole CLIP model (with its text tower) or another model
  // is named by the tensors left over.
  file.finish({"position_ids", "logit_scale"});
  return_free_memory_to_system();
  log_info("[image-encoder] loaded ", model.string(), " (", config.num_hidden_layers, " layers, width ", config.hidden_size, ")");
  return encoder;
}

double image_encoder_weights_gib(const fs::path& model, ops::Precision precision) {
  return packed_weights_gib(io::open_weight_set("image-encoder", encoder_files(model)), precision);
}

}  // namespace sdxl::pipeline

#include "pipeline/sources/model_info.h"

#include <cstdio>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "io/json_file.h"
#include "io/model_configs.h"
#include "io/pipeline_folder.h"
#include "pipeline/request/scheduler_spec.h"

namespace sdxl::pipeline {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using nlohmann::ordered_json;

ordered_json describe_weights(const io::PipelineFolder& folder, const std::string& component) {
  io::WeightFiles files = folder.weight_files(component);
  io::WeightSet weights = io::open_weight_set(component, files.files, files.shard_index);
  int64_t params = 0;
  uint64_t bytes = 0;
  std::map<std::string, int64_t> dtypes;
  for (const auto& name : weights.names()) {
    const io::TensorRecord* r = weights.record(name);
    params += r->shape.numel();
    dtypes[std::string(dtype_name(r->dtype))] += 1;
  }
  ordered_json file_names = json::array();
  for (const auto& f : weights.files()) {
    bytes += f->file_size();
    file_names.push_back(f->path().filename().string());
  }
  ordered_json out;
  out["files"] = file_names;
  out["variant"] = files.variant;
  out["tensors"] = weights.size();
  out["parameters"] = params;
  out["dtypes"] = dtypes;
  out["file_bytes"] = bytes;
  return out;
}

ordered_json describe_config(const io::PipelineFolder& folder, const io::ComponentEntry& entry) {
  ordered_json c;
  const std::string& cls = entry.class_name;
  if (cls == "UNet2DConditionModel") {
    io::UNetConfig u = io::load_unet_config(folder.config_path(entry.name));
    c["block_out_channels"] = u.block_out_channels;
    c["down_block_types"] = u.down_block_types;
    c["up_block_types"] = u.up_block_types;
    c["attention_heads"] = u.num_attention_heads;
    c["transformer_layers_per_block"] = u.transformer_layers_per_block;
    c["layers_per_block"] = u.layers_per_block;
    c["cross_attention_dim"] = u.cross_attention_dim;
    c["addition_embed_type"] = u.addition_embed_type;
    c["addition_time_embed_dim"] = u.addition_time_embed_dim;
    c["projection_class_embeddings_input_dim"] = u.projection_class_embeddings_input_dim;
    c["in_channels"] = u.in_channels;
    c["sample_size"] = u.sample_size;
  } else if (cls == "AutoencoderKL") {
    io::VaeConfig v = io::load_vae_config(folder.config_path(entry.name));
    c["block_out_channels"] = v.block_out_channels;
    c["layers_per_block"] = v.layers_per_block;
    c["latent_channels"] = v.latent_channels;
    c["scaling_factor"] = v.scaling_factor;
    c["force_upcast"] = v.force_upcast;
    c["sample_size"] = v.sample_size;
  } else if (cls == "CLIPTextModel" || cls == "CLIPTextModelWithProjection") {
    io::ClipTextConfig t = io::load_clip_text_config(folder.config_path(entry.name));
    c["hidden_size"] = t.hidden_size;
    c["layers"] = t.num_hidden_layers;
    c["heads"] = t.num_attention_heads;
    c["intermediate_size"] = t.intermediate_size;
    c["hidden_act"] = t.hidden_act;
    if (t.with_projection()) c["projection_dim"] = t.projection_dim;
    c["max_position_embeddings"] = t.max_position_embeddings;
  } else if (cls == "CLIPTokenizer") {
    fs::path dir = folder.component_dir(entry.name);
    json vocab = io::read_json_object(dir / "vocab.json", "tokenizer");
    c["vocab_size"] = vocab.size();
    fs::path config = dir / "tokenizer_config.json";
    if (fs::exists(config)) {
      json tc = io::read_json_object(config, "tokenizer");
      io::JsonFields f(tc, config.string(), "tokenizer");
      c["model_max_length"] = f.integer("model_max_length", 77);
      if (tc.contains("pad_token")) {
        const json& pad = tc.at("pad_token");
        c["pad_token"] = pad.is_object() ? pad.value("content", "") : pad.is_string() ? pad.get<std::string>() : "";
      }
    }
  } else if (entry.name == "scheduler") {
    const auto path = folder.config_path(entry.name);
    const samplers::SchedulerSpec s = scheduler_spec(io::read_json_object(path, "scheduler"), "", path.string());
    c["beta_schedule"] = s.beta_schedule;
    c["prediction_type"] = s.prediction_type;
    c["timestep_spacing"] = s.timestep_spacing ? *s.timestep_spacing : "(class default)";
    c["steps_offset"] = s.steps_offset;
    c["use_karras_sigmas"] = s.use_karras_sigmas;
  }
  return c;
}

bool has_weights(const std::string& cls) {
  return cls == "UNet2DConditionModel" || cls == "AutoencoderKL" || cls == "CLIPTextModel" ||
         cls == "CLIPTextModelWithProjection";
}

std::string human_bytes(uint64_t bytes) {
  char buf[32];
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string with_thousands(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string compact(const ordered_json& value) {
  if (value.is_string()) return value.get<std::string>();
  std::string s = value.dump();
  std::string out;
  for (char ch : s)
    if (ch != '"') out += ch == ',' ? ", " : std::string(1, ch);
  return out;
}

std::string format_text(const ordered_json& info) {
  std::ostringstream out;
  out << "model:  " << info["path"].get<std::string>() << "\n";
  out << "class:  " << info["class"].get<std::string>() << "\n";
  out << "force_zeros_for_empty_prompt: " << (info["force_zeros_for_empty_prompt"].get<bool>() ? "true" : "false")
      << ", requires_aesthetics_score: " << (info["requires_aesthetics_score"].get<bool>() ? "true" : "false") << "\n";
  for (const auto& c : info["components"]) {
    out << "\n" << c["name"].get<std::string>() << "  (" << c["class"].get<std::string>() << ")\n";
    for (auto it = c["config"].begin(); it != c["config"].end(); ++it)
      out << "  " << it.key() << ": " << compact(it.value()) << "\n";
    if (c.contains("weights")) {
      const auto& w = c["weights"];
      std::string dtypes;
      for (auto it = w["dtypes"].begin(); it != w["dtypes"].end(); ++it)
        dtypes += (dtypes.empty() ? "" : ", ") + it.key() + " x" + std::to_string(it.value().get<int64_t>());
      out << "  weights: " << compact(w["files"]) << (w["variant"].get<std::string>().empty() ? "" : " (variant " + w["variant"].get<std::string>() + ")") << "\n";
      out << "  tensors: " << w["tensors"].get<int64_t>() << ", parameters: "
          << with_thousands(w["parameters"].get<int64_t>()) << ", dtypes: " << dtypes
          << ", size: " << human_bytes(w["file_bytes"].get<uint64_t>()) << "\n";
    }
  }
  out << "\ntotal parameters: " << with_thousands(info["total_parameters"].get<int64_t>())
      << ", weights on disk: " << human_bytes(info["total_file_bytes"].get<uint64_t>()) << "\n";
  return out.str();
}

}  // namespace

std::string describe_model(const fs::path& model_dir, const std::string& variant, bool as_json) {
  io::PipelineFolder folder = io::PipelineFolder::open(model_dir, variant);
  ordered_json info;
  info["path"] = model_dir.string();
  info["class"] = folder.index().class_name;
  info["force_zeros_for_empty_prompt"] = folder.index().force_zeros_for_empty_prompt;
  info["requires_aesthetics_score"] = folder.index().requires_aesthetics_score;
  info["components"] = ordered_json::array();
  int64_t total_params = 0;
  uint64_t total_bytes = 0;
  for (const auto& entry : folder.index().components) {
    ordered_json c;
    c["name"] = entry.name;
    c["class"] = entry.class_name;
    c["library"] = entry.library;
    c["config"] = describe_config(folder, entry);
    if (has_weights(entry.class_name)) {
      c["weights"] = describe_weights(folder, entry.name);
      total_params += c["weights"]["parameters"].get<int64_t>();
      total_bytes += c["weights"]["file_bytes"].get<uint64_t>();
    }
    info["components"].push_back(c);
  }
  info["total_parameters"] = total_params;
  info["total_file_bytes"] = total_bytes;
  return as_json ? info.dump(2) + "\n" : format_text(info);
}

}  // namespace sdxl::pipeline

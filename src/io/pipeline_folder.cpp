#include "io/pipeline_folder.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/log.h"
#include "io/json_file.h"

namespace sdxl::io {

namespace fs = std::filesystem;
using nlohmann::json;

const ComponentEntry* PipelineIndex::find(const std::string& name) const {
  for (const auto& c : components)
    if (c.name == name) return &c;
  return nullptr;
}

PipelineIndex load_pipeline_index(const fs::path& path) {
  json root = read_json_object(path, "model");
  JsonFields f(root, path.string(), "model");
  PipelineIndex index;
  index.class_name = f.string("_class_name", "");
  if (index.class_name.empty()) f.bad("_class_name", "is missing: not a diffusers model_index.json");
  index.force_zeros_for_empty_prompt = f.boolean("force_zeros_for_empty_prompt", true);
  index.requires_aesthetics_score = f.boolean("requires_aesthetics_score", false);
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& key = it.key();
    if (key.empty() || key[0] == '_' || !it->is_array()) continue;  // metadata and flags
    if (it->size() != 2) f.bad(key.c_str(), "must be [library, class]");
    const json& library = (*it)[0];
    const json& cls = (*it)[1];
    if (library.is_null() || cls.is_null()) continue;  // an absent optional component
    if (!library.is_string() || !cls.is_string()) f.bad(key.c_str(), "must be [library, class] strings");
    index.components.push_back({key, library.get<std::string>(), cls.get<std::string>()});
  }
  return index;
}

PipelineFolder PipelineFolder::open(const fs::path& dir, const std::string& variant) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail(ErrorCode::Io, "[model] ", dir.string(), ": not a directory (expected a diffusers pipeline folder)");
  fs::path index_path = dir / "model_index.json";
  if (!fs::exists(index_path, ec))
    fail(ErrorCode::Io, "[model] ", dir.string(), ": no model_index.json (expected a diffusers pipeline folder)");
  PipelineFolder folder;
  folder.dir_ = dir;
  folder.variant_ = variant;
  folder.index_ = load_pipeline_index(index_path);
  return folder;
}

fs::path PipelineFolder::component_dir(const std::string& component) const {
  if (!has(component))
    fail(ErrorCode::Format, "[model] ", dir_.string(), ": model_index.json has no component '", component, "'");
  fs::path path = dir_ / component;
  std::error_code ec;
  if (!fs::is_directory(path, ec))
    fail(ErrorCode::Io, "[model] ", path.string(), ": component folder is missing");
  return path;
}

fs::path PipelineFolder::config_path(const std::string& component) const {
  fs::path dir = component_dir(component);
  fs::path path = dir / (component == "scheduler" ? "scheduler_config.json" : "config.json");
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(ErrorCode::Io, "[model] ", path.string(), ": missing");
  return path;
}

namespace {

// diffusers / transformers insert the variant before the last extension:
// model.safetensors -> model.fp16.safetensors, x.safetensors.index.json -> x.safetensors.index.fp16.json
std::string with_variant(const std::string& file, const std::string& variant) {
  if (variant.empty()) return file;
  auto dot = file.rfind('.');
  return file.substr(0, dot) + "." + variant + file.substr(dot);
}

// `file` is "<stem>.safetensors" or torch's "<stem>.bin" (diffusers' and transformers' fallback).
std::optional<WeightFiles> find_weights(const fs::path& dir, const std::string& file, const std::string& variant) {
  std::error_code ec;
  fs::path single = dir / with_variant(file, variant);
  if (fs::is_regular_file(single, ec)) return WeightFiles{{single}, {}, variant};
  fs::path index = dir / with_variant(file + ".index.json", variant);
  if (!fs::is_regular_file(index, ec)) return std::nullopt;
  json root = read_json_object(index, "weights");
  auto map = root.find("weight_map");
  if (map == root.end() || !map->is_object())
    fail(ErrorCode::Format, "[weights] ", index.string(), ": no weight_map object");
  std::set<std::string> shards;
  for (auto it = map->begin(); it != map->end(); ++it) {
    if (!it->is_string()) fail(ErrorCode::Format, "[weights] ", index.string(), ": weight_map values must be file names");
    std::string shard = it->get<std::string>();
    if (shard.find('/') != std::string::npos || shard.find("..") != std::string::npos)
      fail(ErrorCode::Format, "[weights] ", index.string(), ": shard name '", shard, "' leaves the folder");
    shards.insert(shard);
  }
  WeightFiles found{{}, index, variant};
  for (const auto& shard : shards) {
    fs::path p = dir / shard;
    if (!fs::is_regular_file(p, ec))
      fail(ErrorCode::Io, "[weights] ", index.string(), ": shard ", p.string(), " is missing");
    found.files.push_back(p);
  }
  return found;
}

}  // namespace

WeightFiles PipelineFolder::weight_files(const std::string& component) const {
  fs::path dir = component_dir(component);
  const ComponentEntry* entry = index_.find(component);
  const bool transformers = entry->library == "transformers";
  const std::string stem = transformers ? "model" : "diffusion_pytorch_model";
  const std::string safetensors = stem + ".safetensors", torch = (transformers ? "pytorch_model" : stem) + ".bin";
  if (!variant_.empty()) {
    if (auto found = find_weights(dir, safetensors, variant_)) return *found;
    if (auto found = find_weights(dir, torch, variant_)) return *found;
    fail(ErrorCode::Io, "[model] ", dir.string(), ": no ", variant_, " weights (",
         with_variant(safetensors, variant_), " or its .index.", variant_, ".json)");
  }
  if (auto found = find_weights(dir, safetensors, "")) return *found;
  // No plain weights: use a variant when exactly one is present (e.g. only *.fp16.safetensors).
  std::set<std::string> variants;
  std::error_code ec;
  for (const auto& file : fs::directory_iterator(dir, ec)) {
    const std::string name = file.path().filename().string();
    if (name.rfind(stem + ".", 0) == 0 && name.size() > stem.size() + 13 &&
        name.compare(name.size() - 12, 12, ".safetensors") == 0) {
      std::string middle = name.substr(stem.size() + 1, name.size() - stem.size() - 13);
      if (middle.find('.') == std::string::npos && middle.find('-') == std::string::npos) variants.insert(middle);
    }
  }
  if (variants.size() == 1) {
    if (auto found = find_weights(dir, safetensors, *variants.begin())) {
      log_info("[model] ", component, ": using the ", *variants.begin(), " weights, the only ones present");
      return *found;
    }
  }
  if (variants.size() > 1)
    fail(ErrorCode::InvalidArgument, "[model] ", dir.string(), ": several weight variants and no plain weights; choose one with --variant");
  if (auto found = find_weights(dir, torch, "")) return *found;  // read without running it (io/torch_checkpoint.h)
  fail(ErrorCode::Io, "[model] ", dir.string(), ": no weights (", safetensors, " or ", torch, " is missing)");
}

WeightSet PipelineFolder::open_weights(const std::string& component) const {
  WeightFiles files = weight_files(component);
  return open_weight_set(component, files.files, files.shard_index);
}

}  // namespace sdxl::io

#include "pipeline/sources/model_source.h"

#include "core/error.h"
#include "pipeline/sources/single_file_source.h"
#include "io/tensor_file.h"
#include "io/json_file.h"

namespace sdxl::pipeline {

FolderSource::FolderSource(const std::filesystem::path& dir, const std::string& variant)
    : folder_(io::PipelineFolder::open(dir, variant)) {}

std::string FolderSource::config_origin(const std::string& component) const {
  return folder_.config_path(component).string();
}

const nlohmann::json& FolderSource::config(const std::string& component) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = configs_.find(component);
  if (found == configs_.end()) {
    const char* stage = component == "scheduler" ? "scheduler" : "config";
    found = configs_.emplace(component, io::read_json_object(folder_.config_path(component), stage)).first;
  }
  return found->second;
}

std::shared_ptr<const ModelSource> open_model_source(const std::filesystem::path& path, const std::string& variant,
                                                     const std::filesystem::path& config_dir) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    SDXL_CHECK(io::is_weights_file_name(path), Unsupported, "[model] ", path.string(),
               ": not a checkpoint (.safetensors, .ckpt, .pt, .pth, .bin) or a diffusers pipeline folder");
    return std::make_shared<SingleFileSource>(path, config_dir);
  }
  return std::make_shared<FolderSource>(path, variant);
}

}  // namespace sdxl::pipeline

// `sdxl info`: what a pipeline folder holds, validated, as text or JSON.
#pragma once

#include <filesystem>
#include <string>

namespace sdxl::pipeline {

std::string describe_model(const std::filesystem::path& model_dir, const std::string& variant, bool as_json);

}  // namespace sdxl::pipeline

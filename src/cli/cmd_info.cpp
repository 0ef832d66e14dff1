#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "sdxl/sdxl.hpp"

namespace sdxl::cli {

namespace {
struct InfoOptions {
  std::string model;
  std::string variant;
  bool json = false;
};
}  // namespace

Command add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* info = app.add_subcommand(
      "info", "Describe a diffusers SDXL pipeline folder: each component's class, key config values,\n"
              "tensor and parameter counts, dtypes and file sizes. Every weights file is validated.");
  info->add_option("model", options->model, "Pipeline folder (with model_index.json)")->required();
  info->add_option("--variant", options->variant, "Weights variant to read, e.g. fp16 (*.fp16.safetensors)");
  info->add_flag("--json", options->json, "Print JSON instead of text");
  return [info, options]() -> int {
    if (!info->parsed()) return -1;
    std::string report = api::model_info(options->model, options->variant, options->json);
    std::fputs(report.c_str(), stdout);
    return 0;
  };
}

}  // namespace sdxl::cli

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/lora_arg.h"
#include "sdxl/sdxl.hpp"

namespace sdxl::cli {

namespace {
struct ConvertOptions {
  std::string input, output, config, variant, dtype = "keep";
  std::vector<std::string> loras;  // FILE[:WEIGHT]
};
}  // namespace

Command add_convert_command(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "convert",
      "Convert a model set: a single-file checkpoint (the original Stability layout, as\n"
      "sd_xl_base_1.0.safetensors) into a diffusers folder, or a diffusers folder into a single file;\n"
      "optionally into another dtype (--dtype) and with LoRAs merged in (--lora): bake a LoRA, or\n"
      "shrink a checkpoint to fp16. A torch file (.ckpt, .pt, .pth, .bin) given with an OUTPUT.safetensors is\n"
      "written tensor for tensor (a state_dict / params_ema / params wrapper unwrapped), read without\n"
      "running any of its code.");
  cmd->add_option("input", o->input, "A single-file checkpoint (.safetensors, .ckpt), a diffusers folder, or any torch file")->required();
  cmd->add_option("output", o->output, "The folder (from a single file) or .safetensors file (from a folder) to write; must not exist")
      ->required();
  cmd->add_option("--dtype", o->dtype, "keep (each tensor as stored), fp32, fp16 or bf16")
      ->check(CLI::IsMember({"keep", "fp32", "fp16", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--lora", o->loras, "A LoRA to merge in, FILE.safetensors[:WEIGHT] (repeatable)");
  cmd->add_option("--config", o->config, "A single-file input's architecture: a diffusers folder (default: SDXL 1.0's)");
  cmd->add_option("--variant", o->variant, "A folder input's weights variant, e.g. fp16");
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    std::vector<LoraArg> args;
    for (const auto& text : o->loras) args.push_back(parse_lora_arg(text, "--lora"));
    std::vector<sdxl_lora> loras;
    for (const auto& l : args) loras.push_back({l.path.c_str(), l.weight});
    sdxl_convert_params params;
    sdxl_convert_params_init(&params);
    params.input = o->input.c_str();
    params.output = o->output.c_str();
    params.config_dir = o->config.empty() ? nullptr : o->config.c_str();
    params.variant = o->variant.c_str();
    params.dtype = o->dtype.c_str();
    params.loras = loras.data();
    params.lora_count = static_cast<int>(loras.size());
    try {
      api::check(sdxl_convert(&params));
    } catch (const api::Failure& e) {
      if (e.status() == SDXL_STATUS_INVALID_ARGUMENT) throw CLI::ValidationError(e.what());
      throw;
    }
    std::printf("%s\n", o->output.c_str());
    return 0;
  };
}

}  // namespace sdxl::cli

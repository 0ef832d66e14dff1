// A LoRA file as stored: its tensors grouped by the module they adapt, each under a canonical
// part name, whatever the trainer called it. Formats: kohya / AUTOMATIC1111 (`lora_unet_*`,
// `lora_te1_*`, `lora_te2_*` with `.lora_down.weight` / `.lora_up.weight` / `.alpha`, LoCon's
// `.lora_mid.weight`), PEFT / diffusers (`lora_A` / `lora_B`, `.lora.down` / `.lora.up`,
// `.lora_linear_layer.*`, attention-processor names), LyCORIS LoHa (`hada_*`), LoKr (`lokr_*`),
// full-weight `.diff` / `.diff_b`, and DoRA's `.dora_scale`. Only safetensors is read.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "io/safetensors.h"

namespace sdxl::lora {

// Canonical part names: "down", "up", "mid", "alpha", "hada_w1_a", "hada_w1_b", "hada_w2_a",
// "hada_w2_b", "hada_t1", "hada_t2", "lokr_w1", "lokr_w1_a", "lokr_w1_b", "lokr_w2", "lokr_w2_a",
// "lokr_w2_b", "lokr_t2", "diff", "diff_b", "dora_scale".
struct ModuleTensors {
  std::string key;  // the module as the file names it: "lora_unet_input_blocks_4_1_...", "unet.down_blocks.1..."
  std::map<std::string, Tensor> parts;
  bool has(const std::string& part) const { return parts.count(part) > 0; }
  const Tensor& at(const std::string& part) const;  // throws naming the module
};

struct LoraFile {
  std::filesystem::path path;
  std::vector<ModuleTensors> modules;  // sorted by key
};

// Groups an open file's tensors; throws Format listing tensors of no known part.
LoraFile group_lora_tensors(const io::SafetensorsFile& file);
// Opens and groups `path`; a pickled .ckpt / .pt / .bin is refused unread.
LoraFile read_lora_file(const std::filesystem::path& path);

}  // namespace sdxl::lora

// A file of named tensors in any format sdxl reads, told apart by its first bytes (not its
// name): safetensors, or a torch.save checkpoint read without running it (io/torch_checkpoint.h).
#pragma once

#include <filesystem>
#include <memory>

#include "io/safetensors.h"

namespace sdxl::io {

std::shared_ptr<SafetensorsFile> open_tensor_file(const std::filesystem::path& path);

// The names weights are shipped under: .safetensors, and torch's .ckpt, .pt, .pth, .bin (any case).
bool is_weights_file_name(const std::filesystem::path& path);
bool is_torch_file_name(const std::filesystem::path& path);

}  // namespace sdxl::io

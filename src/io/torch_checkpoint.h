// torch.save files (.ckpt, .pt, .pth, .bin) read without running them: the zip archive torch
// writes since 1.6 (`<prefix>/data.pkl` + one stored entry per storage), its pickle read by the
// weights-only machine of io/pickle_machine.h. The tensors become records of the stored bytes, so
// a checkpoint is used in place like a safetensors file. A top-level "state_dict", "params_ema"
// or "params" dict is unwrapped; nested dicts name their tensors with dots ("image_proj.norm.weight",
// "string_to_param.*"), as the same weights are named in safetensors files.
#pragma once

#include <filesystem>
#include <memory>

#include "io/safetensors.h"

namespace sdxl::io {

// Opens and validates; throws sdxl::Error naming the file: Unsupported for a refused global or
// opcode (nothing is run) and for the legacy (pre-1.6) format, Format for anything malformed.
std::shared_ptr<SafetensorsFile> open_torch_checkpoint(const std::filesystem::path& path);

// True for a file torch.save wrote (zip) or a bare pickle, by its first bytes.
bool is_torch_file(const MappedFile& file);

}  // namespace sdxl::io

// The bodies of the fuzz targets, shared by the libFuzzer entry points (fuzz_*.cpp) and the
// regression test that replays fuzz/regressions/ under ctest. Each takes arbitrary bytes and
// must end with a clean sdxl::Error or success: never a crash, a hang or an unbounded allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace sdxl::fuzz {

int safetensors_bytes(const uint8_t* data, size_t size);  // a safetensors file
int config_bytes(const uint8_t* data, size_t size);       // every config.json / model_index.json reader
int tokenizer_bytes(const uint8_t* data, size_t size);    // a prompt for both CLIP tokenizers
int image_bytes(const uint8_t* data, size_t size);        // a PNG or JPEG input image
int prompt_bytes(const uint8_t* data, size_t size);       // an AUTOMATIC1111-syntax prompt: parse and chunk
int keys_bytes(const uint8_t* data, size_t size);         // tensor keys, one per line: every layout mapping
int lora_bytes(const uint8_t* data, size_t size);         // a LoRA file: parse, match, merge
// A torch.save file (bytes starting "PK"), or else a data.pkl put in one with four storages.
int torch_bytes(const uint8_t* data, size_t size);

// The tokenizer folder the tokenizer target loads once ($SDXL_REF/tokenizer by default).
void set_tokenizer_dir(const std::filesystem::path& dir);

}  // namespace sdxl::fuzz

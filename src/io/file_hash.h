// SHA-256 of model files as AUTOMATIC1111 and model sites name them, with a cache so that a
// second run does not read gigabytes again: "AutoV2" (the first 10 hex digits of the whole
// file's SHA-256: Model hash, VAE hash) and the LoRA hash of A1111's "Lora hashes" (the
// SHA-256 of a safetensors file's data after its header, as kohya's additional-networks does:
// metadata edits do not change it; 12 digits).
#pragma once

#include <filesystem>
#include <string>

namespace sdxl::io {

enum class FileHashKind { WholeFile, SafetensorsData };

// 64 lowercase hex digits. Cached in `cache_file` (JSON, keyed by kind and absolute path, valid
// while size and modification time match); empty `cache_file`: no cache. A cache that cannot be
// read or written is ignored (the hash is still right).
std::string file_sha256(const std::filesystem::path& path, FileHashKind kind, const std::filesystem::path& cache_file);

// AUTOMATIC1111's old model hash (sd_models.model_hash): the first 8 hex digits of the SHA-256
// of the 64 KiB at offset 1 MiB (of nothing, for a smaller file). Its ControlNet extension names
// models "name [hash]" with it.
std::string a1111_short_model_hash(const std::filesystem::path& path);

// sdxl's cache folder: $SDXL_CACHE_DIR, else $XDG_CACHE_HOME/sdxl, else ~/.cache/sdxl (empty
// when none of them is set).
std::filesystem::path default_cache_root();
// hashes.json there.
std::filesystem::path default_hash_cache();

}  // namespace sdxl::io

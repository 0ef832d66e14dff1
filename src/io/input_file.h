// Opening a file to read without waiting on it: a FIFO or device given as a model, a VAE, an
// init image or a mask would block open() or read() forever. Such paths are refused at once.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

namespace sdxl::io {

using InputFile = std::unique_ptr<FILE, int (*)(FILE*)>;

// Opens `path` for reading when it is a regular file (symlinks followed); throws Io naming
// `stage` ("[image]") and the path otherwise.
InputFile open_regular_file(const std::filesystem::path& path, const std::string& stage);

// The whole file, at most `max_bytes` (Format beyond).
std::string read_regular_file(const std::filesystem::path& path, const std::string& stage, size_t max_bytes);

}  // namespace sdxl::io

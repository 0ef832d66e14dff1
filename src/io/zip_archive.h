// The entries of a zip archive that stores them uncompressed, as torch.save writes its
// checkpoints: each entry is a byte range of the memory-mapped file, so tensors are read in place.
// Every number of the central directory (ZIP64 included) is checked against the file's size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/mapped_file.h"

namespace sdxl::io {

struct ZipEntry {
  std::string name;
  uint64_t offset = 0;  // of the entry's bytes within the file
  uint64_t size = 0;
  bool stored = true;   // false: compressed (its bytes are not usable in place)
};

inline constexpr size_t kMaxZipEntries = 1u << 20;

// True when the file starts as a zip archive does (a local file header).
bool looks_like_zip(const MappedFile& file);

// The archive's entries in directory order. Throws sdxl::Error (Format) naming `file` when the
// directory is missing, truncated or points outside the file.
std::vector<ZipEntry> read_zip_directory(const MappedFile& file);

}  // namespace sdxl::io

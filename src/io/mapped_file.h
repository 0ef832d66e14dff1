// A read-only memory map of a whole file. Tensors viewing it hold a shared_ptr to keep it alive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace sdxl::io {

class MappedFile {
 public:
  // Throws sdxl::Error (Io) naming the file when it cannot be opened or mapped. `populate`: its
  // pages are mapped now (one call, no fault per page later) for a file read whole at once.
  static std::shared_ptr<MappedFile> open(const std::filesystem::path& path, bool populate = false);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  // Drops the resident pages wholly inside [offset, offset + length) from this process: a model
  // that has copied (packed, converted) a tensor need not also hold the file's copy. The data
  // stays readable: a later access reads it from the file again.
  void release(size_t offset, size_t length) const;

 private:
  MappedFile() = default;
  std::filesystem::path path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sdxl::io

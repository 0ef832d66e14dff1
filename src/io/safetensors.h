// safetensors: an 8-byte little-endian header length, a JSON header mapping tensor names to
// {dtype, shape, data_offsets}, then the raw little-endian data. The reader validates every
// record against the real file before any tensor is touched, and hands out views into the map.
// A torch checkpoint (io/torch_checkpoint.h) is read into the same class: its records point at
// the zip's stored storages, so every loader reads either format the same way.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "io/mapped_file.h"

namespace sdxl::io {

struct TensorRecord {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0;  // byte offsets within the data area (after the header)
  uint64_t end = 0;
  bool copied = false;  // the offsets are in the file's copies (a torch tensor stored with gaps)
};

// Limits enforced before anything is sized by the file's own numbers.
inline constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
inline constexpr size_t kMaxTensors = 1u << 20;

class SafetensorsFile {
 public:
  // Opens and validates; throws sdxl::Error naming the file (and tensor) on any inconsistency.
  static std::shared_ptr<SafetensorsFile> open(const std::filesystem::path& path);
  // Records already validated against `file` (offsets from its first byte), and `copies`: the
  // bytes of records marked `copied`. For readers of other formats.
  static std::shared_ptr<SafetensorsFile> from_records(std::shared_ptr<MappedFile> file, std::vector<TensorRecord> records,
                                                       std::shared_ptr<const std::vector<uint8_t>> copies,
                                                       std::map<std::string, std::string> metadata);

  const std::filesystem::path& path() const { return file_->path(); }
  uint64_t file_size() const { return file_->size(); }
  const std::vector<TensorRecord>& records() const { return records_; }  // sorted by name
  const TensorRecord* find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // A view into the map (a copy when the data is not aligned for its dtype). Throws if absent.
  Tensor tensor(std::string_view name) const;
  Tensor tensor(const TensorRecord& record) const;
  // A view whose pages are dropped from memory (MappedFile::release) when its last copy goes:
  // for weights that are converted or packed, so the file's copy is not held beside the model's.
  Tensor transient_tensor(const TensorRecord& record) const;

 private:
  std::shared_ptr<MappedFile> file_;
  const uint8_t* data(const TensorRecord& record) const;
  uint64_t data_offset_ = 0;
  std::shared_ptr<const std::vector<uint8_t>> copies_;
  std::vector<TensorRecord> records_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (in the given order) with an 8-byte aligned header. Writes to a temporary
// file next to `path` and renames it, so a failure never leaves a partial file behind.
void write_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// The same, producing one tensor at a time (`produce(i)` must match `layout[i]`'s dtype and
// shape): files larger than memory, such as a real-size checkpoint made of random numbers.
struct TensorLayout {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
};
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorLayout>& layout,
                       const std::function<Tensor(size_t index)>& produce,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace sdxl::io

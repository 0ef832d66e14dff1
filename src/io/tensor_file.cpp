#include "io/tensor_file.h"

#include <algorithm>
#include <string>

#include "io/torch_checkpoint.h"

namespace sdxl::io {
namespace {

std::string lowercase_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; });
  return ext;
}

}  // namespace

std::shared_ptr<SafetensorsFile> open_tensor_file(const std::filesystem::path& path) {
  if (is_torch_file(*MappedFile::open(path))) return open_torch_checkpoint(path);
  return SafetensorsFile::open(path);
}

bool is_torch_file_name(const std::filesystem::path& path) {
  const std::string ext = lowercase_extension(path);
  return ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin";
}

bool is_weights_file_name(const std::filesystem::path& path) {
  return lowercase_extension(path) == ".safetensors" || is_torch_file_name(path);
}

}  // namespace sdxl::io

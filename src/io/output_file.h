// Writing an output file so that neither a failure nor a hostile folder can do harm: the data
// goes to a temporary created exclusively beside the target (O_CREAT|O_EXCL|O_NOFOLLOW, so a
// planted "out.png.tmp" symlink is never followed), which replaces the target only when whole.
// A target that exists and is not a regular file (a FIFO, a device, a folder) is refused: -o
// /dev/null would otherwise replace /dev/null.
#pragma once

#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>

namespace sdxl::io {

class OutputFile {
 public:
  // `stage` leads error messages ("[png]").
  OutputFile(std::filesystem::path target, std::string stage);
  ~OutputFile();  // removes the temporary unless committed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, size_t size);
  // Closes the temporary and renames it over the target.
  void commit();
  const std::filesystem::path& target() const { return target_; }

 private:
  [[noreturn]] void fail_with(const std::string& what);
  std::filesystem::path target_, temporary_;
  std::string stage_;
  FILE* file_ = nullptr;
  bool committed_ = false;
};

// Throws Io when `path` exists and is not a regular file (a symlink to one is fine: it is
// replaced, not followed).
void check_output_target(const std::filesystem::path& path, const std::string& stage);

}  // namespace sdxl::io

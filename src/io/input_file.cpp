#include "io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace sdxl::io {

InputFile open_regular_file(const std::filesystem::path& path, const std::string& stage) {
  // O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::Io, stage, " ", path.string(), ": cannot open (", std::strerror(errno), ")");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorCode::Io, stage, " ", path.string(), ": not a regular file (a FIFO, a device or a folder cannot be read as one)");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  FILE* file = ::fdopen(fd, "rb");
  if (!file) {
    ::close(fd);
    fail(ErrorCode::Io, stage, " ", path.string(), ": cannot open (", std::strerror(errno), ")");
  }
  return InputFile(file, std::fclose);
}

std::string read_regular_file(const std::filesystem::path& path, const std::string& stage, size_t max_bytes) {
  InputFile file = open_regular_file(path, stage);
  struct stat st {};
  if (::fstat(::fileno(file.get()), &st) != 0 || static_cast<uintmax_t>(st.st_size) > max_bytes)
    fail(ErrorCode::Format, stage, " ", path.string(), ": larger than ", max_bytes, " bytes");
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  if (!bytes.empty() && std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size())
    fail(ErrorCode::Io, stage, " ", path.string(), ": read failed");
  return bytes;
}

}  // namespace sdxl::io

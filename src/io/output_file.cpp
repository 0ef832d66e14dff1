#include "io/output_file.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace sdxl::io {

void check_output_target(const std::filesystem::path& path, const std::string& stage) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;  // not there yet
  if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) return;
  fail(ErrorCode::Io, stage, " ", path.string(), ": exists and is not a regular file (",
       S_ISDIR(st.st_mode) ? "a folder" : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file",
       "); it is not replaced");
}

OutputFile::OutputFile(std::filesystem::path target, std::string stage) : target_(std::move(target)), stage_(std::move(stage)) {
  check_output_target(target_, stage_);
  const std::filesystem::path folder = target_.parent_path().empty() ? std::filesystem::path(".") : target_.parent_path();
  for (int attempt = 0; attempt < 16; ++attempt) {
    unsigned char random[6] = {};
    if (getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) fail_with("no random bytes for a temporary name");
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%02x%02x%02x%02x%02x%02x", random[0], random[1], random[2], random[3], random[4], random[5]);
    temporary_ = folder / ("." + target_.filename().string() + "." + suffix + ".tmp");
    const int fd = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
      file_ = fdopen(fd, "wb");
      if (!file_) {
        ::close(fd);
        ::unlink(temporary_.c_str());
        fail_with(std::string("cannot write (") + std::strerror(errno) + ")");
      }
      return;
    }
    if (errno != EEXIST) {
      temporary_.clear();
      fail_with(std::string("cannot write (") + std::strerror(errno) + ")");
    }
  }
  temporary_.clear();
  fail_with("cannot create a temporary file beside it");
}

OutputFile::~OutputFile() {
  if (file_) std::fclose(file_);
  if (!committed_ && !temporary_.empty()) ::unlink(temporary_.c_str());
}

void OutputFile::fail_with(const std::string& what) { fail(ErrorCode::Io, stage_, " ", target_.string(), ": ", what); }

void OutputFile::write(const void* data, size_t size) {
  if (size && std::fwrite(data, 1, size, file_) != size) fail_with("write failed (disk full?)");
}

void OutputFile::commit() {
  const bool flushed = std::fflush(file_) == 0 && !std::ferror(file_);
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) fail_with("write failed (disk full?)");
  check_output_target(target_, stage_);  // still not a FIFO or device (a race would only lose the rename)
  if (std::rename(temporary_.c_str(), target_.c_str()) != 0) fail_with(std::string("cannot replace it (") + std::strerror(errno) + ")");
  committed_ = true;
}

}  // namespace sdxl::io

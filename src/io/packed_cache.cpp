#include "io/packed_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "core/checksum.h"
#include "core/error.h"
#include "core/log.h"

namespace sdxl::io {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'S', 'D', 'X', 'L', 'P', 'A', 'K', '1'};
constexpr uint64_t kAlign = 4096;  // every part starts on a page: mapped, it is aligned for any kernel
constexpr const char* kSuffix = ".sdxlpack";

struct Header {
  char magic[8];
  uint64_t file_bytes, index_offset, index_bytes, index_checksum, reserved[2];
  uint64_t header_checksum;  // of everything above
};
static_assert(sizeof(Header) == 64);

uint64_t header_checksum(const Header& h) { return checksum64(&h, offsetof(Header, header_checksum)); }

uint64_t aligned(uint64_t offset) { return (offset + kAlign - 1) / kAlign * kAlign; }

// The index: the key, then per record its name, layout and parts (offset, size, checksum).
class IndexWriter {
 public:
  void u64(uint64_t v) { bytes_.append(reinterpret_cast<const char*>(&v), sizeof(v)); }
  void text(const std::string& s) {
    u64(s.size());
    bytes_ += s;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class IndexReader {
 public:
  IndexReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool u64(uint64_t& v) {
    if (size_ - at_ < sizeof(v)) return false;
    std::memcpy(&v, data_ + at_, sizeof(v));
    at_ += sizeof(v);
    return true;
  }
  bool text(std::string& s) {
    uint64_t n = 0;
    if (!u64(n) || n > size_ - at_) return false;
    s.assign(reinterpret_cast<const char*>(data_ + at_), n);
    at_ += n;
    return true;
  }
  bool done() const { return at_ == size_; }

 private:
  const uint8_t* data_;
  size_t size_, at_ = 0;
};

// Why `file` cannot be used for `key` ("" when it can), filling `images` from it.
std::string verify(const MappedFile& file, const std::string& key, std::unordered_map<std::string, PackedImage>& images) {
  const uint8_t* data = file.data();
  const uint64_t size = file.size();
  if (size < sizeof(Header)) return "shorter than its header";
  Header h;
  std::memcpy(&h, data, sizeof(h));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return "not a packed-weight file of this format";
  if (header_checksum(h) != h.header_checksum) return "its header is damaged";
  if (h.file_bytes != size) return "it holds " + std::to_string(size) + " of its " + std::to_string(h.file_bytes) + " bytes";
  if (h.index_offset > size || h.index_bytes > size - h.index_offset) return "its index lies outside it";
  if (checksum64(data + h.index_offset, h.index_bytes) != h.index_checksum) return "its index is damaged";
  IndexReader index(data + h.index_offset, h.index_bytes);
  std::string stored_key;
  uint64_t records = 0;
  if (!index.text(stored_key) || !index.u64(records)) return "its index is cut short";
  if (stored_key != key) return "it was made for another checkpoint, precision, CPU or library";
  for (uint64_t r = 0; r < records; ++r) {
    std::string name;
    PackedImage image;
    uint64_t parts = 0;
    if (!index.text(name) || !index.text(image.layout) || !index.u64(parts) || parts > 16) return "its index is cut short";
    for (uint64_t p = 0; p < parts; ++p) {
      uint64_t offset = 0, bytes = 0, sum = 0;
      if (!index.u64(offset) || !index.u64(bytes) || !index.u64(sum)) return "its index is cut short";
      if (offset > h.index_offset || bytes > h.index_offset - offset) return "a part of '" + name + "' lies outside its data";
      if (checksum64(data + offset, bytes) != sum) return "the bytes of '" + name + "' are damaged";
      image.parts.push_back({data + offset, bytes});
    }
    images.emplace(std::move(name), std::move(image));
  }
  if (!index.done()) return "its index has trailing bytes";
  return "";
}

}  // namespace

std::string file_key_line(const fs::path& path) {
  struct stat st {};
  const fs::path absolute = fs::absolute(path).lexically_normal();
  SDXL_CHECK(::stat(absolute.c_str(), &st) == 0, Io, "[cache] ", path.string(), ": cannot read: ", std::strerror(errno));
  return "file " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + " " + std::to_string(st.st_ino) + " " + absolute.string() + "\n";
}

bool names_changed_files(const std::string& key) {
  size_t at = 0;
  while (at < key.size()) {
    size_t end = key.find('\n', at);
    if (end == std::string::npos) end = key.size();
    const std::string line = key.substr(at, end - at);
    at = end + 1;
    if (line.rfind("file ", 0) != 0) continue;
    // "file SIZE MTIME INODE PATH": the path is what follows the fourth space.
    size_t path = 0;
    for (int field = 0; field < 4 && path != std::string::npos; ++field) path = line.find(' ', path + (field ? 1 : 0));
    if (path == std::string::npos) return true;
    try {
      if (file_key_line(line.substr(path + 1)) != line + "\n") return true;
    } catch (const Error&) {
      return true;  // gone
    }
  }
  return false;
}

namespace {

// The key an entry was written for, read from its index alone; empty when it cannot be read.
std::string stored_key(const fs::path& file) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string key;
  Header h{};
  if (::pread(fd, &h, sizeof(h), 0) == static_cast<ssize_t>(sizeof(h)) &&
      std::memcmp(h.magic, kMagic, sizeof(kMagic)) == 0 && header_checksum(h) == h.header_checksum) {
    uint64_t length = 0;
    if (::pread(fd, &length, sizeof(length), static_cast<off_t>(h.index_offset)) == sizeof(length) &&
        length <= h.index_bytes) {
      key.resize(length);
      if (::pread(fd, key.data(), length, static_cast<off_t>(h.index_offset + sizeof(length))) != static_cast<ssize_t>(length))
        key.clear();
    }
  }
  ::close(fd);
  return key;
}

}  // namespace

std::shared_ptr<const PackedCacheEntry> PackedCacheEntry::open(const fs::path& file, const std::string& key) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return nullptr;
  auto entry = std::shared_ptr<PackedCacheEntry>(new PackedCacheEntry());
  std::string problem;
  try {
    entry->file_ = MappedFile::open(file, /*populate=*/true);
    problem = verify(*entry->file_, key, entry->images_);
  } catch (const Error& e) {
    problem = e.what();
  }
  if (!problem.empty()) {
    log_warn("[cache] ", file.string(), ": not used (", problem, "); it is removed and made again");
    fs::remove(file, ec);
    return nullptr;
  }
  const std::shared_ptr<const void> owner(entry->file_, entry->file_->data());
  for (auto& [name, image] : entry->images_) image.owner = owner;
  return entry;
}

const PackedImage* PackedCacheEntry::find(const std::string& name) const {
  const auto it = images_.find(name);
  return it == images_.end() ? nullptr : &it->second;
}

PackedCacheWriter::PackedCacheWriter(fs::path file, std::string key) : file_(std::move(file)), key_(std::move(key)) {
  std::random_device random;
  temporary_ = file_;
  temporary_ += ".part-" + std::to_string(::getpid()) + "-" + std::to_string(random());
  fd_ = ::open(temporary_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(ErrorCode::Io, "[cache] ", temporary_.string(), ": cannot create: ", std::strerror(errno));
  end_ = kAlign;  // the header's page
}

PackedCacheWriter::~PackedCacheWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) {
    std::error_code ec;
    fs::remove(temporary_, ec);
  }
}

void PackedCacheWriter::write_at(uint64_t offset, const void* data, size_t bytes) {
  const auto* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::pwrite(fd_, p, std::min<size_t>(bytes, size_t{1} << 30), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(ErrorCode::Io, "[cache] ", temporary_.string(), ": cannot write: ", std::strerror(errno));
    p += n;
    offset += static_cast<uint64_t>(n);
    bytes -= static_cast<size_t>(n);
  }
}

void PackedCacheWriter::add(const std::string& name, const PackedImage& image) {
  SDXL_CHECK(!committed_, Internal, "[cache] add after commit");
  Record record{name, image.layout, {}, {}, {}};
  for (const PackedImage::Part& part : image.parts) {
    const uint64_t offset = aligned(end_);
    write_at(offset, part.data, part.bytes);
    record.offsets.push_back(offset);
    record.sizes.push_back(part.bytes);
    record.checksums.push_back(checksum64(part.data, part.bytes));
    end_ = offset + part.bytes;
  }
  records_.push_back(std::move(record));
}

void PackedCacheWriter::commit() {
  SDXL_CHECK(!committed_, Internal, "[cache] committed twice");
  IndexWriter index;
  index.text(key_);
  index.u64(records_.size());
  for (const Record& r : records_) {
    index.text(r.name);
    index.text(r.layout);
    index.u64(r.offsets.size());
    for (size_t p = 0; p < r.offsets.size(); ++p) {
      index.u64(r.offsets[p]);
      index.u64(r.sizes[p]);
      index.u64(r.checksums[p]);
    }
  }
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.index_offset = end_;
  h.index_bytes = index.bytes().size();
  h.index_checksum = checksum64(index.bytes().data(), index.bytes().size());
  h.file_bytes = h.index_offset + h.index_bytes;
  h.header_checksum = header_checksum(h);
  write_at(h.index_offset, index.bytes().data(), index.bytes().size());
  write_at(0, &h, sizeof(h));
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(ErrorCode::Io, "[cache] ", temporary_.string(), ": cannot write: ", std::strerror(errno));
  }
  fd_ = -1;
  // Atomic: a reader sees no file or a whole one; of two writers of one entry, the last stays.
  if (::rename(temporary_.c_str(), file_.c_str()) != 0)
    fail(ErrorCode::Io, "[cache] cannot put ", file_.string(), " in place: ", std::strerror(errno));
  committed_ = true;
}

fs::path PackedCacheFolder::entry_file(const std::string& key) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  SDXL_CHECK(fs::is_directory(dir_, ec), Io, "[cache] ", dir_.string(), ": cannot create the folder",
             ec ? ": " + ec.message() : std::string());
  char name[17];
  std::snprintf(name, sizeof(name), "%016llx", static_cast<unsigned long long>(checksum64(key.data(), key.size())));
  return dir_ / (std::string(name) + kSuffix);
}

void PackedCacheFolder::touch(const fs::path& file) {
  std::error_code ec;
  fs::last_write_time(file, fs::file_time_type::clock::now(), ec);  // best effort: order only
}

void PackedCacheFolder::trim(const fs::path& keep) const {
  struct Found {
    fs::path path;
    fs::file_time_type used;
    uint64_t bytes;
  };
  std::vector<Found> entries;
  uint64_t total = 0;
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& item : fs::directory_iterator(dir_, ec)) {
    const fs::path& path = item.path();
    const std::string name = path.filename().string();
    const auto used = fs::last_write_time(path, ec);
    if (ec || !item.is_regular_file(ec)) continue;
    if (name.find(std::string(kSuffix) + ".part-") != std::string::npos) {
      if (now - used > std::chrono::hours(1)) fs::remove(path, ec);  // a writer that died
      continue;
    }
    if (path.extension() != kSuffix) continue;  // not ours: left alone
    const uint64_t bytes = item.file_size(ec);
    if (ec) continue;
    if (path != keep && names_changed_files(stored_key(path))) {
      if (fs::remove(path, ec)) log_info("[cache] removed ", path.string(), ": the files it was made from changed or are gone");
      continue;
    }
    total += bytes;
    if (path != keep) entries.push_back({path, used, bytes});
  }
  std::sort(entries.begin(), entries.end(), [](const Found& a, const Found& b) { return a.used < b.used; });
  for (const Found& e : entries) {
    if (total <= max_bytes_) break;
    if (fs::remove(e.path, ec)) {
      log_info("[cache] removed ", e.path.string(), " (", e.bytes >> 20, " MiB): the cache holds at most ",
               max_bytes_ >> 20, " MiB");
      total -= e.bytes;
    }
  }
}

}  // namespace sdxl::io

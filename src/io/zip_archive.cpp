#include "io/zip_archive.h"

#include <algorithm>

#include "core/error.h"

namespace sdxl::io {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50, kCentralHeader = 0x02014b50, kEndOfDirectory = 0x06054b50,
                   kZip64Locator = 0x07064b50, kZip64End = 0x06064b50;

// Reads little-endian numbers within the file, failing rather than reading past its end.
struct Reader {
  const MappedFile& file;
  uint64_t le(uint64_t at, int bytes) const {
    if (at > file.size() || file.size() - at < static_cast<uint64_t>(bytes)) bad("a record runs past the end of the file");
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | file.data()[at + i];
    return v;
  }
  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(ErrorCode::Format, "[zip] ", file.path().string(), ": ", std::forward<Parts>(parts)...);
  }
};

uint64_t find_end_of_directory(const Reader& r) {
  const uint64_t size = r.file.size();
  if (size < 22) r.bad("too short for a zip archive");
  const uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;  // the comment is at most 64 KiB
  for (uint64_t at = size - 22;; --at) {
    if (r.le(at, 4) == kEndOfDirectory) return at;
    if (at == lowest) break;
  }
  r.bad("no end-of-central-directory record (not a zip archive, or truncated)");
}

// ZIP64 "extra field" values replace the 32-bit ones that are all ones, in this order.
void apply_zip64_extra(const Reader& r, uint64_t extra, uint64_t extra_len, uint64_t& size, uint64_t& compressed,
                       uint64_t& local_offset) {
  for (uint64_t at = extra; at + 4 <= extra + extra_len;) {
    const uint64_t id = r.le(at, 2), len = r.le(at + 2, 2);
    if (at + 4 + len > extra + extra_len) r.bad("an extra field runs past its entry");
    if (id == 1) {
      uint64_t field = at + 4;
      for (uint64_t* value : {&size, &compressed, &local_offset}) {
        if (*value != 0xffffffffu) continue;
        if (field + 8 > at + 4 + len) r.bad("a ZIP64 extra field is too short");
        *value = r.le(field, 8);
        field += 8;
      }
    }
    at += 4 + len;
  }
}

}  // namespace

bool looks_like_zip(const MappedFile& file) {
  return file.size() >= 4 && file.data()[0] == 'P' && file.data()[1] == 'K' && file.data()[2] == 3 && file.data()[3] == 4;
}

std::vector<ZipEntry> read_zip_directory(const MappedFile& file) {
  const Reader r{file};
  const uint64_t end = find_end_of_directory(r);
  uint64_t count = r.le(end + 10, 2), directory_size = r.le(end + 12, 4), directory = r.le(end + 16, 4);
  if (count == 0xffff || directory_size == 0xffffffffu || directory == 0xffffffffu) {
    if (end < 20 || r.le(end - 20, 4) != kZip64Locator) r.bad("a ZIP64 archive without its locator");
    const uint64_t zip64_end = r.le(end - 20 + 8, 8);
    if (r.le(zip64_end, 4) != kZip64End) r.bad("the ZIP64 end record is not where its locator says");
    count = r.le(zip64_end + 32, 8);
    directory_size = r.le(zip64_end + 40, 8);
    directory = r.le(zip64_end + 48, 8);
  }
  if (count > kMaxZipEntries) r.bad(count, " entries exceed the limit of ", kMaxZipEntries);
  if (directory > file.size() || directory_size > file.size() - directory)
    r.bad("the central directory lies outside the file");

  std::vector<ZipEntry> entries;
  uint64_t at = directory;
  for (uint64_t i = 0; i < count; ++i) {
    if (r.le(at, 4) != kCentralHeader) r.bad("entry ", i, " of the central directory is damaged");
    const uint64_t flags = r.le(at + 8, 2), method = r.le(at + 10, 2);
    uint64_t compressed = r.le(at + 20, 4), size = r.le(at + 24, 4);
    const uint64_t name_len = r.le(at + 28, 2), extra_len = r.le(at + 30, 2), comment_len = r.le(at + 32, 2);
    uint64_t local = r.le(at + 42, 4);
    if (at + 46 + name_len > file.size()) r.bad("entry ", i, "'s name runs past the end of the file");
    ZipEntry e;
    e.name.assign(reinterpret_cast<const char*>(file.data() + at + 46), name_len);
    apply_zip64_extra(r, at + 46 + name_len, extra_len, size, compressed, local);
    if (flags & 1) r.bad("entry '", e.name, "' is encrypted");
    e.stored = method == 0 && compressed == size;
    if (r.le(local, 4) != kLocalHeader) r.bad("entry '", e.name, "': no local header at offset ", local);
    e.offset = local + 30 + r.le(local + 26, 2) + r.le(local + 28, 2);
    e.size = e.stored ? size : compressed;
    if (e.offset > file.size() || e.size > file.size() - e.offset)
      r.bad("entry '", e.name, "' (", e.size, " bytes at ", e.offset, ") runs past the end of the file");
    entries.push_back(std::move(e));
    at += 46 + name_len + extra_len + comment_len;
  }
  return entries;
}

}  // namespace sdxl::io

#include "io/exif.h"

#include <cstring>

namespace sdxl::io {
namespace {

constexpr uint16_t kExifIfdPointer = 0x8769, kUserComment = 0x9286;
constexpr uint8_t kUnicodePrefix[8] = {'U', 'N', 'I', 'C', 'O', 'D', 'E', 0};
constexpr uint8_t kAsciiPrefix[8] = {'A', 'S', 'C', 'I', 'I', 0, 0, 0};

void put16(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, v >> 16);
  put16(out, v & 0xFFFF);
}

// UTF-8 to UTF-16BE; an invalid byte becomes U+FFFD.
std::vector<uint8_t> utf16be_of(const std::string& text) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    uint32_t cp = 0xFFFD;
    size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 6 || (c >> 4) == 14 || (c >> 3) == 30) {
      len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      if (i + len <= text.size()) {
        cp = c & (0x7F >> len);
        for (size_t k = 1; k < len; ++k) {
          const auto d = static_cast<unsigned char>(text[i + k]);
          if ((d >> 6) != 2) { cp = 0xFFFD; len = k; break; }
          cp = (cp << 6) | (d & 0x3F);
        }
      } else {
        len = 1;
      }
    }
    i += len;
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put16(out, 0xD800 + (cp >> 10));
      put16(out, 0xDC00 + (cp & 0x3FF));
    } else {
      put16(out, cp);
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Python's bytes.decode('utf_16_be', errors='replace').
std::string utf8_of_utf16be(const uint8_t* p, size_t size) {
  std::string out;
  size_t i = 0;
  for (; i + 1 < size; i += 2) {
    const uint32_t u = (uint32_t{p[i]} << 8) | p[i + 1];
    if (u >= 0xD800 && u < 0xDC00 && i + 3 < size) {
      const uint32_t low = (uint32_t{p[i + 2]} << 8) | p[i + 3];
      if (low >= 0xDC00 && low < 0xE000) {
        append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00));
        i += 2;
        continue;
      }
    }
    append_utf8(out, u >= 0xD800 && u < 0xE000 ? 0xFFFD : u);
  }
  if (i < size) append_utf8(out, 0xFFFD);  // an odd trailing byte
  return out;
}

// bytes.decode('utf8', errors='ignore').
std::string valid_utf8_of(const uint8_t* p, size_t size) {
  std::string out;
  for (size_t i = 0; i < size;) {
    const uint8_t c = p[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= size;
    for (size_t k = 1; ok && k < len; ++k) ok = (p[i + k] >> 6) == 2;
    if (ok) out.append(reinterpret_cast<const char*>(p + i), len);
    i += ok ? len : 1;
  }
  return out;
}

// A bounds-checked reader of one TIFF structure in either byte order.
class Tiff {
 public:
  Tiff(const uint8_t* data, size_t size) : p_(data), size_(size) {}
  bool header(uint32_t& first_ifd) {
    if (size_ < 8) return false;
    if (p_[0] == 'M' && p_[1] == 'M') big_ = true;
    else if (p_[0] == 'I' && p_[1] == 'I') big_ = false;
    else return false;
    return u16(2) == 42 && (first_ifd = u32(4), true);
  }
  // The entry `tag` of the IFD at `offset`: its type, count and value field's position.
  bool find(uint32_t offset, uint16_t tag, uint16_t& type, uint32_t& count, uint32_t& value_at) const {
    if (offset > size_ || size_ - offset < 2) return false;
    const uint32_t entries = u16(offset);
    for (uint32_t e = 0; e < entries; ++e) {
      const uint64_t at = uint64_t{offset} + 2 + uint64_t{e} * 12;
      if (at + 12 > size_) return false;
      if (u16(static_cast<uint32_t>(at)) != tag) continue;
      type = u16(static_cast<uint32_t>(at + 2));
      count = u32(static_cast<uint32_t>(at + 4));
      value_at = static_cast<uint32_t>(at + 8);
      return true;
    }
    return false;
  }
  uint32_t u16(uint32_t at) const { return big_ ? (uint32_t{p_[at]} << 8) | p_[at + 1] : (uint32_t{p_[at + 1]} << 8) | p_[at]; }
  uint32_t u32(uint32_t at) const {
    return big_ ? (u16(at) << 16) | u16(at + 2) : (u16(at + 2) << 16) | u16(at);
  }
  const uint8_t* bytes(uint32_t at, uint32_t count) const {
    return at <= size_ && count <= size_ - at ? p_ + at : nullptr;
  }

 private:
  const uint8_t* p_;
  size_t size_;
  bool big_ = true;
};

}  // namespace

std::vector<uint8_t> exif_with_user_comment(const std::string& text) {
  std::vector<uint8_t> comment(kUnicodePrefix, kUnicodePrefix + 8);
  const std::vector<uint8_t> body = utf16be_of(text);
  comment.insert(comment.end(), body.begin(), body.end());
  std::vector<uint8_t> out = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42};
  put32(out, 8);  // IFD0 right after the header
  // IFD0: one entry, the Exif IFD's offset (LONG), then no next IFD: 18 bytes, ending at 26.
  put16(out, 1);
  put16(out, kExifIfdPointer);
  put16(out, 4);
  put32(out, 1);
  put32(out, 26);
  put32(out, 0);
  // The Exif IFD: one entry, UserComment (UNDEFINED) stored after it. piexif writes no
  // next-IFD offset here.
  put16(out, 1);
  put16(out, kUserComment);
  put16(out, 7);
  put32(out, static_cast<uint32_t>(comment.size()));
  put32(out, 40);
  out.insert(out.end(), comment.begin(), comment.end());
  return out;
}

std::optional<std::string> exif_user_comment(const uint8_t* data, size_t size) {
  if (!data) return std::nullopt;
  if (size >= 6 && std::memcmp(data, "Exif\0\0", 6) == 0) {
    data += 6;
    size -= 6;
  }
  Tiff tiff(data, size);
  uint32_t ifd0 = 0, count = 0, value_at = 0;
  uint16_t type = 0;
  if (!tiff.header(ifd0) || !tiff.find(ifd0, kExifIfdPointer, type, count, value_at)) return std::nullopt;
  const uint32_t exif_ifd = tiff.u32(value_at);
  if (!tiff.find(exif_ifd, kUserComment, type, count, value_at)) return std::nullopt;
  // Four bytes or fewer sit in the entry itself; more are at the offset it gives.
  const uint8_t* comment = count <= 4 ? tiff.bytes(value_at, count) : tiff.bytes(tiff.u32(value_at), count);
  if (!comment) return std::nullopt;
  if (count >= 8 && std::memcmp(comment, kUnicodePrefix, 8) == 0) return utf8_of_utf16be(comment + 8, count - 8);
  if (count >= 8 && std::memcmp(comment, kAsciiPrefix, 8) == 0) return valid_utf8_of(comment + 8, count - 8);
  return valid_utf8_of(comment, count);
}

std::optional<std::vector<uint8_t>> jpeg_exif_segment(const std::vector<uint8_t>& jpeg) {
  if (jpeg.size() < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) return std::nullopt;
  size_t at = 2;
  while (at + 4 <= jpeg.size()) {
    if (jpeg[at] != 0xFF) return std::nullopt;
    const uint8_t marker = jpeg[at + 1];
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return std::nullopt;  // scan data or the end: no more headers
    const size_t length = (size_t{jpeg[at + 2]} << 8) | jpeg[at + 3];
    if (length < 2 || at + 2 + length > jpeg.size()) return std::nullopt;
    const uint8_t* body = jpeg.data() + at + 4;
    if (marker == 0xE1 && length - 2 >= 6 && std::memcmp(body, "Exif\0\0", 6) == 0)
      return std::vector<uint8_t>(body, body + (length - 2));
    at += 2 + length;
  }
  return std::nullopt;
}

}  // namespace sdxl::io

#include "io/png.h"

#include "io/input_file.h"
#include "io/output_file.h"

#include <png.h>

#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace sdxl::io {
namespace {

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

// libpng reports errors through longjmp; the message is kept for our exception.
struct ErrorState {
  char message[256] = "unknown libpng error";
};

void on_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<ErrorState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  png_longjmp(png, 1);
}
void on_warning(png_structp, png_const_charp) {}

}  // namespace

namespace {

void append_to_vector(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}
void flush_nothing(png_structp) {}

}  // namespace

std::vector<uint8_t> encode_png(const Image8& image, const std::vector<std::pair<std::string, std::string>>& text) {
  SDXL_CHECK(image.channels == 1 || image.channels == 3 || image.channels == 4, InvalidArgument, "[png] ",
             image.channels, " channels cannot be written");
  SDXL_CHECK(image.width > 0 && image.height > 0 && image.width <= kMaxImageSide && image.height <= kMaxImageSide,
             InvalidArgument, "[png] image size ", image.width, "x", image.height, " is out of range");
  SDXL_CHECK(image.pixels.size() == static_cast<size_t>(image.width * image.height * image.channels), InvalidArgument,
             "[png] pixel buffer size does not match ", image.width, "x", image.height, "x", image.channels);
  std::vector<uint8_t> bytes;
  ErrorState state;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, on_error, on_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) fail(ErrorCode::OutOfMemory, "[png] cannot create a libpng writer");
  std::vector<png_text> chunks(text.size());
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fail(ErrorCode::Internal, "[png] encoding failed: ", state.message);
  }
  png_set_write_fn(png, &bytes, append_to_vector, flush_nothing);
  const int color = image.channels == 1 ? PNG_COLOR_TYPE_GRAY : image.channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_RGBA;
  png_set_IHDR(png, info, static_cast<png_uint_32>(image.width), static_cast<png_uint_32>(image.height), 8, color,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (size_t i = 0; i < text.size(); ++i) {
    chunks[i].compression = PNG_TEXT_COMPRESSION_NONE;
    chunks[i].key = const_cast<char*>(text[i].first.c_str());
    chunks[i].text = const_cast<char*>(text[i].second.c_str());
    chunks[i].text_length = text[i].second.size();
  }
  if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(image.width * image.channels);
  for (int64_t y = 0; y < image.height; ++y)
    png_write_row(png, const_cast<png_bytep>(image.pixels.data() + static_cast<size_t>(y) * stride));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return bytes;
}

void write_png(const std::filesystem::path& path, const Image8& image,
               const std::vector<std::pair<std::string, std::string>>& text) {
  const std::vector<uint8_t> bytes = encode_png(image, text);
  OutputFile out(path, "[png]");
  out.write(bytes.data(), bytes.size());
  out.commit();
}

namespace {

// The largest PNG file we read: a 16384^2 RGBA image stored uncompressed, with room to spare.
constexpr size_t kMaxPngBytes = size_t{1} << 31;

// Reads the whole file (bounded) and walks its chunk headers: every chunk must fit in what is
// left of the file. libpng itself allocates a text chunk's claimed length before reading it.
void check_png_chunks(const std::vector<uint8_t>& bytes, const std::string& what) {
  if (bytes.size() > kMaxPngBytes) fail(ErrorCode::Format, "[png] ", what, ": size out of range");
  if (bytes.size() < 8 || png_sig_cmp(bytes.data(), 0, 8) != 0)
    fail(ErrorCode::Format, "[png] ", what, ": not a PNG file");
  // Every header libpng can read (8 bytes: length, type) is checked, a last one cut short of its
  // CRC included: libpng allocates the claimed length as soon as it has read the header.
  size_t at = 8;
  while (at + 8 <= bytes.size()) {
    const uint32_t length = (uint32_t{bytes[at]} << 24) | (uint32_t{bytes[at + 1]} << 16) | (uint32_t{bytes[at + 2]} << 8) |
                            uint32_t{bytes[at + 3]};
    if (at + 12 > bytes.size() || length > bytes.size() - at - 12)
      fail(ErrorCode::Format, "[png] ", what, ": a chunk at byte ", at, " claims ", length,
           " bytes, more than the file holds (truncated or corrupt)");
    const bool end = std::memcmp(bytes.data() + at + 4, "IEND", 4) == 0;
    at += 12 + length;
    if (end) break;
  }
}

// Opens `path` and creates the libpng reader over its (checked) bytes. The caller must call
// setjmp itself: libpng's errors longjmp, so every C++ object the read uses is declared in the
// calling function before its setjmp (a jump out of a deeper frame would skip destructors).
struct Reader {
  std::vector<uint8_t> bytes;
  size_t offset = 0;
  png_structp png = nullptr;
  png_infop info = nullptr;
  ErrorState state;
  ~Reader() {
    if (png) png_destroy_read_struct(&png, &info, nullptr);
  }
};

void read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* r = static_cast<Reader*>(png_get_io_ptr(png));
  if (count > r->bytes.size() - r->offset) png_error(png, "unexpected end of file");
  std::memcpy(out, r->bytes.data() + r->offset, count);
  r->offset += count;
}

void open_reader(std::vector<uint8_t> bytes, const std::string& what, Reader& r) {
  check_png_chunks(bytes, what);
  r.bytes = std::move(bytes);
  r.offset = 8;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r.state, on_error, on_warning);
  r.info = r.png ? png_create_info_struct(r.png) : nullptr;
  if (!r.png || !r.info) fail(ErrorCode::OutOfMemory, "[png] cannot create a libpng reader");
  // Limits before libpng allocates from the file's numbers: image sides, and the size and count
  // of ancillary chunks.
  png_set_user_limits(r.png, static_cast<png_uint_32>(kMaxImageSide), static_cast<png_uint_32>(kMaxImageSide));
  png_set_chunk_malloc_max(r.png, 16u << 20);
  png_set_chunk_cache_max(r.png, 1000);
  png_set_read_fn(r.png, &r, read_from_memory);
  png_set_sig_bytes(r.png, 8);
}

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  const std::string bytes = read_regular_file(path, "[image]", kMaxPngBytes);
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

Image8 read_png(const std::filesystem::path& path) { return decode_png(read_file_bytes(path), path.string()); }

std::vector<std::pair<std::string, std::string>> read_png_text(const std::filesystem::path& path) {
  return png_text_of(read_file_bytes(path), path.string());
}

void check_pixel_count(int64_t width, int64_t height, int64_t max_pixels, const std::string& what) {
  if (max_pixels <= 0 || width * height <= max_pixels) return;
  fail(ErrorCode::InvalidArgument, what, ": ", width, "x", height, " is ", width * height / 1000000.0,
       " megapixels, more than the ", max_pixels / 1000000.0, " this request can use; make it smaller first");
}

Image8 decode_png(std::vector<uint8_t> bytes, const std::string& what, int64_t max_pixels) {
  Reader r;
  Image8 image;
  std::vector<png_bytep> rows;
  open_reader(std::move(bytes), what, r);
  if (setjmp(png_jmpbuf(r.png))) fail(ErrorCode::Format, "[png] ", what, ": ", r.state.message);
  png_read_info(r.png, r.info);
  png_set_expand(r.png);  // palette -> RGB, low-bit gray -> 8 bit, tRNS -> alpha
  png_set_strip_16(r.png);
  if (png_get_color_type(r.png, r.info) == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(r.png);
  png_read_update_info(r.png, r.info);
  image.width = png_get_image_width(r.png, r.info);
  image.height = png_get_image_height(r.png, r.info);
  image.channels = png_get_channels(r.png, r.info);
  check_pixel_count(image.width, image.height, max_pixels, "[png] " + what);
  const size_t stride = png_get_rowbytes(r.png, r.info);
  if (stride != static_cast<size_t>(image.width * image.channels))
    fail(ErrorCode::Format, "[png] ", what, ": unexpected row layout");
  // Deflate expands at most ~1032:1: a header claiming more pixels than the file can hold is
  // refused before the pixel buffer is sized from it.
  if (stride * static_cast<size_t>(image.height) > 1100 * r.bytes.size() + 65536)
    fail(ErrorCode::Format, "[png] ", what, ": ", image.width, "x", image.height,
         " pixels cannot come from a file of ", r.bytes.size(), " bytes");
  image.pixels.resize(stride * static_cast<size_t>(image.height));
  rows.resize(static_cast<size_t>(image.height));
  for (int64_t y = 0; y < image.height; ++y) rows[static_cast<size_t>(y)] = image.pixels.data() + static_cast<size_t>(y) * stride;
  png_read_image(r.png, rows.data());
  png_read_end(r.png, nullptr);
  return image;
}

Image8 png_header(std::vector<uint8_t> bytes, const std::string& what) {
  Reader r;
  Image8 image;
  open_reader(std::move(bytes), what, r);
  if (setjmp(png_jmpbuf(r.png))) fail(ErrorCode::Format, "[png] ", what, ": ", r.state.message);
  png_read_info(r.png, r.info);
  image.width = png_get_image_width(r.png, r.info);
  image.height = png_get_image_height(r.png, r.info);
  image.channels = png_get_channels(r.png, r.info);
  return image;
}

std::vector<std::pair<std::string, std::string>> png_text_of(std::vector<uint8_t> bytes, const std::string& what) {
  Reader r;
  std::vector<std::pair<std::string, std::string>> out;
  open_reader(std::move(bytes), what, r);
  if (setjmp(png_jmpbuf(r.png))) fail(ErrorCode::Format, "[png] ", what, ": ", r.state.message);
  png_read_info(r.png, r.info);
  png_textp text = nullptr;
  int count = 0;
  png_get_text(r.png, r.info, &text, &count);
  for (int i = 0; i < count; ++i) out.emplace_back(text[i].key, std::string(text[i].text, text[i].text_length));
  return out;
}

}  // namespace sdxl::io

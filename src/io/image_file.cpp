#include "io/image_file.h"

#include <jpeglib.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>

#include "core/error.h"
#include "io/webp.h"

namespace sdxl::io {
namespace {

struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

// libjpeg would print warnings to stderr; they are counted instead (see read_jpeg).
void on_jpeg_message(j_common_ptr) {}

void on_jpeg_error(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

// A progressive JPEG may hold any number of scans, each a pass over every block: 1,000 tiny
// scans in 100 KB cost seconds of CPU. Encoders write about ten; libjpeg-turbo's own tools
// refuse more than 500 on request. Checked before each scan is read.
constexpr int kMaxJpegScans = 64;

void on_jpeg_progress(j_common_ptr info) {
  auto* decoder = reinterpret_cast<j_decompress_ptr>(info);
  if (decoder->input_scan_number > kMaxJpegScans) {
    auto* error = reinterpret_cast<JpegError*>(info->err);
    std::snprintf(error->message, sizeof error->message, "more than %d progressive scans (a decoding bomb?)", kMaxJpegScans);
    std::longjmp(error->jump, 1);
  }
}

}  // namespace

bool is_png(const std::vector<uint8_t>& b) { return b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0; }
bool is_jpeg(const std::vector<uint8_t>& b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF; }

Image8 read_jpeg(const std::filesystem::path& path) { return decode_jpeg(read_file_bytes(path), path.string()); }

Image8 decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& what, int64_t max_pixels) {
  SDXL_CHECK(!bytes.empty(), Format, "[jpeg] ", what, ": empty");
  jpeg_decompress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = on_jpeg_error;
  error.manager.output_message = on_jpeg_message;
  Image8 image;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    fail(ErrorCode::Format, "[jpeg] ", what, ": ", error.message);
  }
  jpeg_create_decompress(&info);
  jpeg_progress_mgr progress{};
  progress.progress_monitor = on_jpeg_progress;
  info.progress = &progress;
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  if (info.image_width > kMaxImageSide || info.image_height > kMaxImageSide) {
    jpeg_destroy_decompress(&info);
    fail(ErrorCode::Format, "[jpeg] ", what, ": ", info.image_width, "x", info.image_height,
         " is larger than the limit of ", kMaxImageSide);
  }
  if (max_pixels > 0 && static_cast<int64_t>(info.image_width) * info.image_height > max_pixels) {
    const int64_t w = info.image_width, h = info.image_height;
    jpeg_destroy_decompress(&info);
    check_pixel_count(w, h, max_pixels, "[jpeg] " + what);
  }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  image.width = info.output_width;
  image.height = info.output_height;
  image.channels = info.output_components;
  image.pixels.resize(static_cast<size_t>(image.width * image.height * image.channels));
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = image.pixels.data() + static_cast<size_t>(info.output_scanline) * static_cast<size_t>(image.width * image.channels);
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  const long warnings = error.manager.num_warnings;
  jpeg_destroy_decompress(&info);
  // libjpeg fills what a truncated or corrupt file lacks and only warns; PIL refuses such
  // files, and so do we rather than generate from a half-grey image.
  if (warnings > 0) fail(ErrorCode::Format, "[jpeg] ", what, ": truncated or corrupt data");
  return image;
}

Image8 read_image(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(ErrorCode::Io, "[image] ", path.string(), ": cannot open (missing file?)");
  return decode_image(read_file_bytes(path), path.string());
}

Image8 decode_image(std::vector<uint8_t> bytes, const std::string& what, int64_t max_pixels) {
  if (is_png(bytes)) return decode_png(std::move(bytes), what, max_pixels);
  if (is_jpeg(bytes)) return decode_jpeg(bytes, what, max_pixels);
  if (is_webp(bytes)) return decode_webp(bytes, what, max_pixels);
  fail(ErrorCode::Format, "[image] ", what, ": not a PNG, JPEG or WebP image");
}

Image8 image_header(std::vector<uint8_t> bytes, const std::string& what) {
  if (is_png(bytes)) return png_header(std::move(bytes), what);
  if (is_webp(bytes)) return webp_header(bytes, what);
  if (!is_jpeg(bytes))
    fail(ErrorCode::Format, "[image] ", what, ": not a PNG, JPEG or WebP image");
  jpeg_decompress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = on_jpeg_error;
  error.manager.output_message = on_jpeg_message;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    fail(ErrorCode::Format, "[jpeg] ", what, ": ", error.message);
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  Image8 image;
  image.width = info.image_width;
  image.height = info.image_height;
  image.channels = info.num_components == 1 ? 1 : 3;
  jpeg_destroy_decompress(&info);
  return image;
}

Image8 to_rgb(const Image8& image) {
  if (image.channels == 3) return image;
  Image8 out{image.width, image.height, 3, std::vector<uint8_t>(static_cast<size_t>(image.width * image.height * 3))};
  for (int64_t i = 0; i < image.width * image.height; ++i)
    for (int c = 0; c < 3; ++c)
      out.pixels[static_cast<size_t>(i * 3 + c)] =
          image.channels >= 3 ? image.pixels[static_cast<size_t>(i * image.channels + c)]
                              : image.pixels[static_cast<size_t>(i * image.channels)];
  return out;
}

Image8 to_gray(const Image8& image) {
  if (image.channels == 1) return image;
  Image8 out{image.width, image.height, 1, std::vector<uint8_t>(static_cast<size_t>(image.width * image.height))};
  for (int64_t i = 0; i < image.width * image.height; ++i) {
    const uint8_t* p = image.pixels.data() + i * image.channels;
    if (image.channels == 2) {
      out.pixels[static_cast<size_t>(i)] = p[0];
      continue;
    }
    // PIL's L = R * 299/1000 + G * 587/1000 + B * 114/1000 in 16-bit fixed point, rounded
    out.pixels[static_cast<size_t>(i)] = static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
  }
  return out;
}

}  // namespace sdxl::io

#include "io/image_encode.h"

#include <jpeglib.h>

#include <algorithm>
#include <cctype>
#include <csetjmp>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "io/exif.h"
#include "io/image_file.h"
#include "io/webp.h"

namespace sdxl::io {
namespace {

struct JpegWriteError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_write_error(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegWriteError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

}  // namespace

std::optional<ImageFormat> image_format_named(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "png") return ImageFormat::Png;
  if (n == "jpeg" || n == "jpg") return ImageFormat::Jpeg;
  if (n == "webp") return ImageFormat::Webp;
  return std::nullopt;
}

// libjpeg with PIL's settings for quality q: jpeg_set_defaults, jpeg_set_quality(q, baseline),
// 4:2:0, no optimisation, a JFIF header, then the EXIF block as APP1.
std::vector<uint8_t> encode_jpeg(const Image8& image, int quality, const std::vector<uint8_t>& exif) {
  SDXL_CHECK(image.channels == 1 || image.channels == 3 || image.channels == 4, InvalidArgument,
             "[jpeg] can write gray, RGB or RGBA images, not ", image.channels, " channels");
  SDXL_CHECK(quality >= 1 && quality <= 100, InvalidArgument, "[jpeg] quality must be in [1, 100], got ", quality);
  SDXL_CHECK(exif.size() <= 65533, InvalidArgument, "[jpeg] the EXIF block is ", exif.size(), " bytes; one APP1 segment holds 65533");
  const Image8 rgb = image.channels == 4 ? to_rgb(image) : Image8{};  // alpha dropped, as AUTOMATIC1111 converts it
  const uint8_t* pixels = image.channels == 4 ? rgb.pixels.data() : image.pixels.data();
  const int channels = image.channels == 4 ? 3 : static_cast<int>(image.channels);
  jpeg_compress_struct info{};
  JpegWriteError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = on_write_error;
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  if (setjmp(error.jump)) {
    jpeg_destroy_compress(&info);
    std::free(buffer);
    fail(ErrorCode::Internal, "[jpeg] ", error.message);
  }
  jpeg_create_compress(&info);
  jpeg_mem_dest(&info, &buffer, &size);
  info.image_width = static_cast<JDIMENSION>(image.width);
  info.image_height = static_cast<JDIMENSION>(image.height);
  info.input_components = channels;
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  if (!exif.empty()) jpeg_write_marker(&info, JPEG_APP0 + 1, exif.data(), static_cast<unsigned>(exif.size()));
  const size_t row_bytes = static_cast<size_t>(image.width) * static_cast<size_t>(channels);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + info.next_scanline * row_bytes);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::vector<uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

std::vector<uint8_t> encode_image(const Image8& image, const ImageEncoding& encoding, const std::string& parameters) {
  switch (encoding.format) {
    case ImageFormat::Jpeg:
      return encode_jpeg(image, encoding.quality, parameters.empty() ? std::vector<uint8_t>{} : exif_with_user_comment(parameters));
    case ImageFormat::Webp: {
      std::vector<uint8_t> exif;
      if (!parameters.empty()) {
        exif = exif_with_user_comment(parameters);
        exif.erase(exif.begin(), exif.begin() + 6);  // PIL writes WebP's EXIF chunk without "Exif\0\0"
      }
      return encode_webp(image, encoding.quality, encoding.lossless, exif);
    }
    default:
      return parameters.empty() ? encode_png(image) : encode_png(image, {{"parameters", parameters}});
  }
}

std::string image_parameters(const std::vector<uint8_t>& bytes, const std::string& what) {
  if (is_png(bytes)) {
    std::string found;
    for (const auto& [key, value] : png_text_of(bytes, what))
      if (key == "parameters") found = value;
    return found;
  }
  std::optional<std::vector<uint8_t>> exif;
  if (is_jpeg(bytes)) exif = jpeg_exif_segment(bytes);
  else if (is_webp(bytes)) exif = webp_exif(bytes);
  else fail(ErrorCode::Format, "[image] ", what, ": not a PNG, JPEG or WebP image");
  if (!exif) return "";
  return exif_user_comment(exif->data(), exif->size()).value_or("");
}

}  // namespace sdxl::io

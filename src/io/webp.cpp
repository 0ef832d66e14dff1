#include "io/webp.h"

#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>

#include <cstring>
#include <memory>

#include "core/error.h"

namespace sdxl::io {
namespace {

WebPBitstreamFeatures features_of(const std::vector<uint8_t>& bytes, const std::string& what) {
  WebPBitstreamFeatures f{};
  SDXL_CHECK(WebPGetFeatures(bytes.data(), bytes.size(), &f) == VP8_STATUS_OK, Format, "[webp] ", what,
             ": not a readable WebP image");
  SDXL_CHECK(f.width > 0 && f.height > 0 && f.width <= kMaxImageSide && f.height <= kMaxImageSide, Format, "[webp] ",
             what, ": ", f.width, "x", f.height, " is outside 1..", kMaxImageSide, " per side");
  SDXL_CHECK(!f.has_animation, Format, "[webp] ", what, ": an animated WebP is not an image sdxl can use");
  return f;
}

}  // namespace

bool is_webp(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 12 && std::memcmp(bytes.data(), "RIFF", 4) == 0 && std::memcmp(bytes.data() + 8, "WEBP", 4) == 0;
}

Image8 webp_header(const std::vector<uint8_t>& bytes, const std::string& what) {
  const WebPBitstreamFeatures f = features_of(bytes, what);
  Image8 image;
  image.width = f.width;
  image.height = f.height;
  image.channels = f.has_alpha ? 4 : 3;
  return image;
}

Image8 decode_webp(const std::vector<uint8_t>& bytes, const std::string& what, int64_t max_pixels) {
  Image8 image = webp_header(bytes, what);
  check_pixel_count(image.width, image.height, max_pixels, what);
  image.pixels.resize(static_cast<size_t>(image.width * image.height * image.channels));
  const int stride = static_cast<int>(image.width * image.channels);
  const uint8_t* done = image.channels == 4
                            ? WebPDecodeRGBAInto(bytes.data(), bytes.size(), image.pixels.data(), image.pixels.size(), stride)
                            : WebPDecodeRGBInto(bytes.data(), bytes.size(), image.pixels.data(), image.pixels.size(), stride);
  SDXL_CHECK(done, Format, "[webp] ", what, ": the image data is damaged");
  return image;
}

std::vector<uint8_t> encode_webp(const Image8& image, int quality, bool lossless, const std::vector<uint8_t>& exif) {
  SDXL_CHECK(image.channels == 3 || image.channels == 4, InvalidArgument, "[webp] can write RGB or RGBA images, not ",
             image.channels, " channels");
  SDXL_CHECK(quality >= 0 && quality <= 100, InvalidArgument, "[webp] quality must be in [0, 100], got ", quality);
  uint8_t* out = nullptr;
  const int stride = static_cast<int>(image.width * image.channels);
  const int w = static_cast<int>(image.width), h = static_cast<int>(image.height);
  const auto q = static_cast<float>(quality);
  size_t size = 0;
  if (image.channels == 4)
    size = lossless ? WebPEncodeLosslessRGBA(image.pixels.data(), w, h, stride, &out)
                    : WebPEncodeRGBA(image.pixels.data(), w, h, stride, q, &out);
  else
    size = lossless ? WebPEncodeLosslessRGB(image.pixels.data(), w, h, stride, &out)
                    : WebPEncodeRGB(image.pixels.data(), w, h, stride, q, &out);
  const std::unique_ptr<uint8_t, void (*)(void*)> encoded(out, WebPFree);
  SDXL_CHECK(size > 0, Internal, "[webp] libwebp could not encode a ", w, "x", h, " image");
  if (exif.empty()) return std::vector<uint8_t>(out, out + size);

  const std::unique_ptr<WebPMux, void (*)(WebPMux*)> mux(WebPMuxNew(), WebPMuxDelete);
  const WebPData image_data{out, size}, exif_data{exif.data(), exif.size()};
  SDXL_CHECK(mux && WebPMuxSetImage(mux.get(), &image_data, 1) == WEBP_MUX_OK &&
                 WebPMuxSetChunk(mux.get(), "EXIF", &exif_data, 1) == WEBP_MUX_OK,
             Internal, "[webp] libwebpmux could not add the EXIF chunk");
  WebPData assembled{};
  SDXL_CHECK(WebPMuxAssemble(mux.get(), &assembled) == WEBP_MUX_OK, Internal, "[webp] libwebpmux could not assemble the file");
  std::vector<uint8_t> result(assembled.bytes, assembled.bytes + assembled.size);
  WebPDataClear(&assembled);
  return result;
}

std::optional<std::vector<uint8_t>> webp_exif(const std::vector<uint8_t>& bytes) {
  if (!is_webp(bytes)) return std::nullopt;
  const WebPData data{bytes.data(), bytes.size()};
  const std::unique_ptr<WebPMux, void (*)(WebPMux*)> mux(WebPMuxCreate(&data, 0), WebPMuxDelete);
  if (!mux) return std::nullopt;
  WebPData chunk{};
  if (WebPMuxGetChunk(mux.get(), "EXIF", &chunk) != WEBP_MUX_OK) return std::nullopt;
  return std::vector<uint8_t>(chunk.bytes, chunk.bytes + chunk.size);
}

}  // namespace sdxl::io

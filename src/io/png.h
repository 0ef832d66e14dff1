// PNG files through libpng: 8-bit RGB/RGBA/gray images, with tEXt chunks (AUTOMATIC1111's
// "parameters" chunk, which image tools read to show how an image was made).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace sdxl::io {

struct Image8 {
  int64_t width = 0, height = 0, channels = 0;  // channels: 1 (gray), 3 (RGB), 4 (RGBA)
  std::vector<uint8_t> pixels;                  // row-major, interleaved
};

// The largest image side we read or write (twice SDXL's largest size): a cap applied before
// any allocation.
inline constexpr int64_t kMaxImageSide = 8192;

// Throws InvalidArgument when `max_pixels` > 0 and width x height exceeds it (`what` leads the
// message): a caller that knows how many pixels it can use refuses more before decoding.
void check_pixel_count(int64_t width, int64_t height, int64_t max_pixels, const std::string& what);

// Writes to a temporary file beside `path` and renames it: a failure leaves no partial file.
void write_png(const std::filesystem::path& path, const Image8& image,
               const std::vector<std::pair<std::string, std::string>>& text = {});
// Reads any PNG as 8-bit gray, RGB or RGBA (palette, 16-bit and gray+alpha are expanded).
Image8 read_png(const std::filesystem::path& path);
// The tEXt / iTXt chunks of a PNG.
std::vector<std::pair<std::string, std::string>> read_png_text(const std::filesystem::path& path);

// The same in memory (`what` names the data in messages: an HTTP field, a file).
std::vector<uint8_t> encode_png(const Image8& image, const std::vector<std::pair<std::string, std::string>>& text = {});
// `max_pixels` > 0: an image of more pixels is refused from its header, before any is decoded.
Image8 decode_png(std::vector<uint8_t> bytes, const std::string& what, int64_t max_pixels = 0);
std::vector<std::pair<std::string, std::string>> png_text_of(std::vector<uint8_t> bytes, const std::string& what);
// Width and height from the header (IHDR); no pixel is decoded. `pixels` stays empty.
Image8 png_header(std::vector<uint8_t> bytes, const std::string& what);
// A whole file's bytes (at most 2 GiB).
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace sdxl::io

// Reading input images (PNG, JPEG or WebP, told apart by their first bytes) as 8-bit pixels.
#pragma once

#include <filesystem>

#include "io/png.h"

namespace sdxl::io {

// The formats by their first bytes (WebP's is io/webp.h's is_webp).
bool is_png(const std::vector<uint8_t>& bytes);
bool is_jpeg(const std::vector<uint8_t>& bytes);

Image8 read_jpeg(const std::filesystem::path& path);
// PNG, JPEG or WebP; anything else is a Format error naming the file.
Image8 read_image(const std::filesystem::path& path);
// The same from bytes in memory (`what` names them in messages: an HTTP field).
// `max_pixels` > 0: an image of more pixels is refused from its header, before any is decoded.
Image8 decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& what, int64_t max_pixels = 0);
Image8 decode_image(std::vector<uint8_t> bytes, const std::string& what, int64_t max_pixels = 0);
// A PNG's, JPEG's or WebP's width, height and channels from its header; `pixels` stays empty.
Image8 image_header(std::vector<uint8_t> bytes, const std::string& what);
// PIL's convert("RGB") / convert("L") on 8-bit images (alpha dropped, ITU-R 601 luma).
Image8 to_rgb(const Image8& image);
Image8 to_gray(const Image8& image);

}  // namespace sdxl::io

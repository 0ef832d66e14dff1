// WebP images through libwebp: decoding uploads (as PIL opens them: RGB, alpha dropped by the
// callers that want RGB) and encoding results, lossy at a quality or lossless, with an EXIF chunk
// (AUTOMATIC1111's parameters) added through libwebpmux.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/png.h"

namespace sdxl::io {

bool is_webp(const std::vector<uint8_t>& bytes);
// `max_pixels` > 0: an image of more pixels is refused from its header, before any is decoded.
Image8 decode_webp(const std::vector<uint8_t>& bytes, const std::string& what, int64_t max_pixels = 0);
Image8 webp_header(const std::vector<uint8_t>& bytes, const std::string& what);
// `quality` 0-100 (libwebp's, as PIL passes it); `exif` empty for none.
std::vector<uint8_t> encode_webp(const Image8& image, int quality, bool lossless, const std::vector<uint8_t>& exif);
// The EXIF chunk's bytes, if any.
std::optional<std::vector<uint8_t>> webp_exif(const std::vector<uint8_t>& bytes);

}  // namespace sdxl::io

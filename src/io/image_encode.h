// Writing results as PNG, JPEG or WebP with the generation parameters where AUTOMATIC1111 puts
// them (a PNG "parameters" text chunk; EXIF UserComment in JPEG and WebP, as its API encodes
// with samples_format jpg/webp), and reading them back from any of the three (its png-info).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/png.h"

namespace sdxl::io {

enum class ImageFormat { Png, Jpeg, Webp };

// "png", "jpeg"/"jpg", "webp" (any case); nullopt for anything else.
std::optional<ImageFormat> image_format_named(const std::string& name);

struct ImageEncoding {
  ImageFormat format = ImageFormat::Png;
  int quality = 80;  // JPEG and lossy WebP, 1-100 (AUTOMATIC1111's jpeg_quality default)
  bool lossless = false;  // WebP
};

// RGBA is written as RGB to JPEG (alpha dropped, as AUTOMATIC1111 converts it).
std::vector<uint8_t> encode_jpeg(const Image8& image, int quality, const std::vector<uint8_t>& exif = {});
// `parameters` empty: no metadata at all.
std::vector<uint8_t> encode_image(const Image8& image, const ImageEncoding& encoding, const std::string& parameters);

// The generation parameters of a PNG ("parameters" chunk), JPEG or WebP (EXIF UserComment);
// empty when there are none. Format error for bytes that are none of the three.
std::string image_parameters(const std::vector<uint8_t>& bytes, const std::string& what);

}  // namespace sdxl::io

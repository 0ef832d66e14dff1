// The EXIF block AUTOMATIC1111 puts its generation parameters in for JPEG and WebP images:
// piexif.dump({"Exif": {UserComment: UserComment.dump(text, encoding="unicode")}}), and reading
// a UserComment back as its png-info does (piexif.load + UserComment.load).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sdxl::io {

// "Exif\0\0" + a big-endian TIFF with an IFD0 that points to an Exif IFD holding one
// UserComment: "UNICODE\0" + the UTF-8 `text` as UTF-16BE. Byte for byte piexif's.
std::vector<uint8_t> exif_with_user_comment(const std::string& text);

// The UserComment of an EXIF block (with or without the "Exif\0\0" prefix, either byte order)
// as UTF-8: UNICODE as UTF-16BE, ASCII as is, anything else as UTF-8 with invalid bytes
// dropped (AUTOMATIC1111's fallback). nullopt when there is none; malformed blocks are nullopt,
// never an out-of-bounds read.
std::optional<std::string> exif_user_comment(const uint8_t* data, size_t size);

// A JPEG's APP1 "Exif" segment (its bytes after the marker and length), scanning the markers
// before the first scan. nullopt when it has none.
std::optional<std::vector<uint8_t>> jpeg_exif_segment(const std::vector<uint8_t>& jpeg);

}  // namespace sdxl::io

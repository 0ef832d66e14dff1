// Base64 (RFC 4648, standard alphabet, padded) for images in JSON bodies: the A1111 API's bare
// base64 PNGs and the OpenAI API's b64_json. Decoding also takes a data URL
// ("data:image/png;base64,...") and refuses anything that is not base64.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sdxl::server {

std::string base64_encode(const uint8_t* data, size_t size);
inline std::string base64_encode(const std::string& bytes) {
  return base64_encode(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}
// Nothing when `text` is not base64 (whitespace is skipped, padding optional).
std::optional<std::string> base64_decode(const std::string& text);

}  // namespace sdxl::server

// Requests to a test's `sdxl serve` and the pieces of its answers: JSON posts and gets, base64
// images, PNG bytes.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/png.h"
#include "server/server_process.h"

namespace sdxl {

using nlohmann::json;
using test::ServerProcess;

inline std::string base64_decode_simple(const std::string& in) {
  static const std::string chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0;
  uint32_t buffer = 0;
  for (char c : in) {
    const size_t v = chars.find(c);
    if (v == std::string::npos) continue;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

inline std::string base64_encode_simple(const std::vector<uint8_t>& in) {
  static const char* chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    const uint32_t n = (uint32_t{in[i]} << 16) | (i + 1 < in.size() ? uint32_t{in[i + 1]} << 8 : 0) | (i + 2 < in.size() ? in[i + 2] : 0);
    out += chars[(n >> 18) & 63];
    out += chars[(n >> 12) & 63];
    out += i + 1 < in.size() ? chars[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? chars[n & 63] : '=';
  }
  return out;
}

inline io::Image8 png_of(const std::string& bytes) { return io::decode_png(std::vector<uint8_t>(bytes.begin(), bytes.end()), "reply"); }

inline json post(const ServerProcess& s, const std::string& path, const json& body, int* status = nullptr) {
  auto c = s.client();
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << path << ": no answer";
    return json();
  }
  if (status) *status = r->status;
  return json::parse(r->body, nullptr, false);
}

inline json get(const ServerProcess& s, const std::string& path, int* status = nullptr) {
  auto c = s.client();
  auto r = c.Get(path.c_str());
  if (!r) {
    ADD_FAILURE() << path << ": no answer";
    return json();
  }
  if (status) *status = r->status;
  return json::parse(r->body, nullptr, false);
}

}  // namespace sdxl

#include "server/http/signed_links.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace sdxl::server {

bool same_secret(const std::string& a, const std::string& b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

LinkSigner::LinkSigner(std::string secret) : secret_(std::move(secret)) {
  if (!secret_.empty()) return;
  secret_.resize(32);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), static_cast<int>(secret_.size())) != 1)
    throw std::runtime_error("no random bytes from the OS for the link secret");
}

std::string LinkSigner::signature(const std::string& path, const std::string& expires) const {
  const std::string message = path + "\n" + expires;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &length);
  std::string hex;
  char digits[3];
  for (unsigned int i = 0; i < length; ++i) {
    std::snprintf(digits, sizeof digits, "%02x", mac[i]);
    hex += digits;
  }
  return hex;
}

std::string LinkSigner::query_for(const std::string& path, int64_t ttl_seconds) const {
  const std::string expires = std::to_string(unix_now() + ttl_seconds);
  return "?expires=" + expires + "&sig=" + signature(path, expires);
}

bool LinkSigner::valid(const std::string& path, const std::string& expires, const std::string& sig, int64_t now) const {
  if (expires.empty() || expires.size() > 12 || expires.find_first_not_of("0123456789") != std::string::npos) return false;
  if (std::stoll(expires) < now) return false;
  return same_secret(sig, signature(path, expires));
}

}  // namespace sdxl::server

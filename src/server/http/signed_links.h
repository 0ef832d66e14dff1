// Links to results that work without the API key (an OpenAI `url` put in an <img>): the path,
// an expiry time and an HMAC-SHA256 over both with the server's secret. A link is good until it
// expires, for that one path; anything else about the request is still checked as usual.
#pragma once

#include <cstdint>
#include <string>

namespace sdxl::server {

class LinkSigner {
 public:
  // `secret` empty: 32 random bytes from the OS (links die with the process; front ends behind one
  // balancer share SDXL_LINK_SECRET instead).
  explicit LinkSigner(std::string secret = "");
  // "?expires=UNIX&sig=HEX" for `path`, good for `ttl_seconds` from now.
  std::string query_for(const std::string& path, int64_t ttl_seconds = 3600) const;
  // Whether `expires` / `sig` (the query's values) sign `path` and have not expired at `now`
  // (compared in constant time).
  bool valid(const std::string& path, const std::string& expires, const std::string& sig, int64_t now) const;

 private:
  std::string signature(const std::string& path, const std::string& expires) const;
  std::string secret_;
};

int64_t unix_now();

// Constant-time comparison of secrets (no early exit on the first difference).
bool same_secret(const std::string& a, const std::string& b);

}  // namespace sdxl::server

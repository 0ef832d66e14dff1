#include "io/file_hash.h"

#include "io/input_file.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"

namespace sdxl::io {
namespace {

namespace fs = std::filesystem;

std::string sha256_from(const fs::path& path, uint64_t offset, uint64_t limit = UINT64_MAX) {
  InputFile file = open_regular_file(path, "[hash]");
  SDXL_CHECK(file, Io, "[hash] cannot open ", path.string());
  SDXL_CHECK(std::fseek(file.get(), static_cast<long>(offset), SEEK_SET) == 0, Io, "[hash] cannot seek in ", path.string());
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  SDXL_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, Internal, "[hash] OpenSSL's SHA-256 failed");
  std::vector<unsigned char> buffer(8u << 20);
  size_t got = 0;
  uint64_t left = limit;
  while (left > 0 && (got = std::fread(buffer.data(), 1, static_cast<size_t>(std::min<uint64_t>(buffer.size(), left)),
                                       file.get())) > 0) {
    EVP_DigestUpdate(ctx.get(), buffer.data(), got);
    left -= got;
  }
  SDXL_CHECK(!std::ferror(file.get()), Io, "[hash] read error in ", path.string());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

// The data area's offset: 8 bytes of header length, then the header.
uint64_t safetensors_data_offset(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char n[8] = {};
  SDXL_CHECK(in.read(reinterpret_cast<char*>(n), 8), Format, "[hash] ", path.string(), ": not a safetensors file");
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | n[i];
  SDXL_CHECK(header <= kMaxHeaderBytes && 8 + header <= fs::file_size(path), Format, "[hash] ", path.string(),
             ": not a safetensors file (header of ", header, " bytes)");
  return 8 + header;
}

std::mutex cache_mutex;  // one process's threads; processes race benignly (whole-file renames)

}  // namespace

fs::path default_cache_root() {
  if (const char* d = std::getenv("SDXL_CACHE_DIR"); d && *d) return fs::path(d);
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "sdxl";
  if (const char* h = std::getenv("HOME"); h && *h) return fs::path(h) / ".cache/sdxl";
  return {};
}

fs::path default_hash_cache() {
  const fs::path root = default_cache_root();
  return root.empty() ? root : root / "hashes.json";
}

std::string a1111_short_model_hash(const fs::path& path) {
  return sha256_from(path, 0x100000, 0x10000).substr(0, 8);
}

std::string file_sha256(const fs::path& path, FileHashKind kind, const fs::path& cache_file) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  SDXL_CHECK(fs::is_regular_file(absolute, ec), Io, "[hash] ", path.string(), " is not a file");
  const uint64_t size = fs::file_size(absolute);
  const int64_t mtime = fs::last_write_time(absolute).time_since_epoch().count();
  const std::string key = (kind == FileHashKind::WholeFile ? "sha256:" : "sha256-data:") + absolute.string();
  std::lock_guard<std::mutex> lock(cache_mutex);
  nlohmann::json cache = nlohmann::json::object();
  if (!cache_file.empty()) {
    std::ifstream in(cache_file);
    if (in) cache = nlohmann::json::parse(in, nullptr, false);
    if (!cache.is_object()) cache = nlohmann::json::object();
    const auto it = cache.find(key);
    if (it != cache.end() && it->is_object() && it->value("size", uint64_t{0}) == size &&
        it->value("mtime", int64_t{0}) == mtime && it->value("sha256", std::string()).size() == 64)
      return (*it)["sha256"];
  }
  const std::string hash = sha256_from(absolute, kind == FileHashKind::WholeFile ? 0 : safetensors_data_offset(absolute));
  if (!cache_file.empty()) {
    cache[key] = {{"size", size}, {"mtime", mtime}, {"sha256", hash}};
    fs::create_directories(cache_file.parent_path(), ec);
    const fs::path temporary = cache_file.string() + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream out(temporary);
      out << cache.dump(1);
    }
    fs::rename(temporary, cache_file, ec);
    if (ec) fs::remove(temporary, ec);
  }
  return hash;
}

}  // namespace sdxl::io

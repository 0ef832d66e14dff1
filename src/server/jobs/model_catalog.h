// The checkpoints a server offers (the one it was started with, and those in --models-dir) and
// the LoRAs in --lora-dir, by name; names resolve only to these entries, never to a path a
// request makes up. The catalog also owns the loaded engine: switching checkpoints loads the new
// one beside the old where memory allows, else frees the old first (the worker thread does
// that; HTTP threads only read). A server left with none loads the last good one on next use.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "sdxl/sdxl.h"
#include "server/server_options.h"

namespace sdxl::server {

struct Checkpoint {
  std::string name;  // file stem or folder name
  std::filesystem::path path;
  bool single_file = false;
};

struct LoraFileEntry {
  std::string name;  // file stem: what <lora:NAME:W> says
  std::filesystem::path path;
};

class ModelCatalog {
 public:
  explicit ModelCatalog(ServerOptions options);
  ~ModelCatalog();
  ModelCatalog(const ModelCatalog&) = delete;
  ModelCatalog& operator=(const ModelCatalog&) = delete;

  std::vector<Checkpoint> checkpoints() const;
  std::vector<LoraFileEntry> loras() const;
  void refresh_checkpoints();
  void refresh_loras();
  // By name, or by AUTOMATIC1111's title "name [hash]"; nothing for any other text.
  std::optional<Checkpoint> find_checkpoint(const std::string& name) const;
  std::optional<LoraFileEntry> find_lora(const std::string& name) const;
  // AUTOMATIC1111's short hash (10 hex digits of the file's SHA-256) and the full one; empty for
  // folders. Kept per file (while its size and time match): every request that names a
  // checkpoint asks, and the hash cache is a file to parse.
  std::string sha256(const Checkpoint& c) const;
  std::string title(const Checkpoint& c) const;  // "name [hash]" or "name"

  // The loaded engine and its checkpoint. use() loads `name` unless it is loaded (worker thread).
  const std::string& current() const { return current_; }
  void use(const std::string& name);
  // The engine under a shared lock, for calls that only read it (checks) from HTTP threads.
  template <typename Body>
  auto with_engine(Body body) const {
    std::shared_lock<std::shared_mutex> lock(engine_mutex_);
    return body(engine_);
  }
  sdxl_engine* engine() const { return engine_; }  // worker thread only
  const ServerOptions& options() const { return options_; }

 private:
  void load(const Checkpoint& c);
  ServerOptions options_;
  mutable std::mutex lists_mutex_;
  std::vector<Checkpoint> checkpoints_;
  std::vector<LoraFileEntry> loras_;
  struct KnownHash {
    uintmax_t size = 0;
    std::filesystem::file_time_type mtime;
    std::string sha256;
  };
  mutable std::mutex hashes_mutex_;
  mutable std::map<std::filesystem::path, KnownHash> hashes_;
  mutable std::shared_mutex engine_mutex_;
  sdxl_engine* engine_ = nullptr;
  std::string current_;
  std::string last_loaded_;  // the last checkpoint that loaded: what a server without one goes back to
};

}  // namespace sdxl::server

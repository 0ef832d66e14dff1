// The checkpoints a server offers (the one it was started with, and those in --models-dir) and
// the LoRAs in --lora-dir, by name; names resolve only to these entries, never to a path a
// request makes up. The catalog also owns the loaded engines: the default checkpoint (what a
// request naming none runs on, and what /options reports) and the others requests named lately,
// at most --models-in-memory of them and only as many as memory holds, the least recently used
// freed first. A request naming a checkpoint runs on it without changing the default; only
// set_default does (POST /options). The worker thread loads and frees; HTTP threads only read.
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
#include "server/jobs/prompt_styles.h"
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

struct ControlNetEntry {
  std::string name;   // file stem or folder name
  std::string title;  // the ControlNet extension's "name [hash]" (AUTOMATIC1111's old 8-digit hash)
  std::filesystem::path path;
};

class ModelCatalog {
 public:
  explicit ModelCatalog(ServerOptions options);
  ~ModelCatalog();
  ModelCatalog(const ModelCatalog&) = delete;
  ModelCatalog& operator=(const ModelCatalog&) = delete;

  std::vector<Checkpoint> checkpoints() const;
  const PromptStyles& styles() const { return styles_; }  // --styles-file, read at start
  std::vector<LoraFileEntry> loras() const;
  std::vector<ControlNetEntry> controlnets() const;
  void refresh_checkpoints();
  void refresh_loras();
  void refresh_controlnets();
  // By name, or by AUTOMATIC1111's title "name [hash]"; nothing for any other text.
  std::optional<Checkpoint> find_checkpoint(const std::string& name) const;
  std::optional<LoraFileEntry> find_lora(const std::string& name) const;
  // As the ControlNet extension matches them: the title, or the name (any case) with or without
  // a " [hash]" after it.
  std::optional<ControlNetEntry> find_controlnet(const std::string& name) const;
  // An image encoder in --image-encoder-dir by its name (a folder's or a .safetensors file's stem,
  // any case); nothing for a name with a path in it.
  std::optional<std::filesystem::path> find_image_encoder(const std::string& name) const;
  // The upscaler models of --upscaler-dir (weights files, by name: the file's without extension,
  // sorted), and one by name (exactly, else in any case).
  std::vector<std::pair<std::string, std::filesystem::path>> upscalers() const;
  std::optional<std::filesystem::path> find_upscaler(const std::string& name) const;
  // AUTOMATIC1111's short hash (10 hex digits of the file's SHA-256) and the full one; empty for
  // folders. Kept per file (while its size and time match): every request that names a
  // checkpoint asks, and the hash cache is a file to parse.
  std::string sha256(const Checkpoint& c) const;
  std::string title(const Checkpoint& c) const;  // "name [hash]" or "name"

  // What a request naming no checkpoint runs on (a name; empty with a queue's front end).
  std::string default_checkpoint() const;
  // Worker thread: makes `name` ("": the default) the current engine, loading it unless it is
  // loaded (422 / 507 naming sd_model_checkpoint when it does not load; the others stay).
  void use(const std::string& name);
  // Worker thread: loads `name` and makes it the default.
  void set_default(const std::string& name);
  const std::string& current() const { return current_; }  // worker thread: what use() chose
  sdxl_engine* engine() const;                              // worker thread: its engine
  std::vector<std::string> loaded() const;                  // least recently used first
  // An engine under a shared lock (the default's, else any loaded one, else null), for calls
  // that only read it (checks) from HTTP threads.
  template <typename Body>
  auto with_engine(Body body) const {
    std::shared_lock<std::shared_mutex> lock(engine_mutex_);
    return body(checking_engine());
  }
  const ServerOptions& options() const { return options_; }

 private:
  struct Loaded {
    std::string name;
    sdxl_engine* engine = nullptr;
  };
  void load(const Checkpoint& c);
  void make_room_for(const Checkpoint& c);
  void free_least_recent();
  sdxl_engine* checking_engine() const;
  ServerOptions options_;
  PromptStyles styles_;
  mutable std::mutex lists_mutex_;
  std::vector<Checkpoint> checkpoints_;
  std::vector<LoraFileEntry> loras_;
  std::vector<ControlNetEntry> controlnets_;
  struct KnownHash {
    uintmax_t size = 0;
    std::filesystem::file_time_type mtime;
    std::string sha256;
  };
  mutable std::mutex hashes_mutex_;
  mutable std::map<std::filesystem::path, KnownHash> hashes_;
  mutable std::shared_mutex engine_mutex_;  // guards loaded_ and default_
  std::vector<Loaded> loaded_;              // least recently used first
  std::string default_;
  std::string current_;
};

}  // namespace sdxl::server

#include "server/jobs/model_catalog.h"


#include <algorithm>

#include "sdxl/sdxl.hpp"
#include "server/http/request_fields.h"
#include "server/system_memory.h"

namespace sdxl::server {
namespace {

namespace fs = std::filesystem;

std::string lowercase_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

ModelCatalog::ModelCatalog(ServerOptions options) : options_(std::move(options)) {
  refresh_checkpoints();
  refresh_loras();
  if (options_.queue_url.empty()) load(checkpoints_.front());  // a queue's front end generates nothing
}

ModelCatalog::~ModelCatalog() { sdxl_engine_free(engine_); }

void ModelCatalog::refresh_checkpoints() {
  std::vector<Checkpoint> list;
  std::error_code ec;
  const fs::path first = options_.model;
  if (!first.empty())
    list.push_back({first.filename().empty() ? first.parent_path().filename().string() : (fs::is_regular_file(first, ec) ? first.stem() : first.filename()).string(),
                    first, fs::is_regular_file(first, ec)});
  if (!options_.models_dir.empty()) {
    std::vector<Checkpoint> found;
    for (const auto& entry : fs::directory_iterator(options_.models_dir, ec)) {
      const fs::path p = entry.path();
      if (entry.is_directory(ec) && fs::exists(p / "model_index.json", ec)) found.push_back({p.filename().string(), p, false});
      else if (entry.is_regular_file(ec) && lowercase_extension(p) == ".safetensors") found.push_back({p.stem().string(), p, true});
    }
    std::sort(found.begin(), found.end(), [](const Checkpoint& a, const Checkpoint& b) { return a.name < b.name; });
    for (auto& c : found)
      if (fs::weakly_canonical(c.path, ec) != fs::weakly_canonical(first, ec)) list.push_back(std::move(c));
  }
  std::lock_guard<std::mutex> lock(lists_mutex_);
  checkpoints_ = std::move(list);
}

void ModelCatalog::refresh_loras() {
  std::vector<LoraFileEntry> list;
  std::error_code ec;
  if (!options_.lora_dir.empty())
    for (auto it = fs::recursive_directory_iterator(options_.lora_dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && lowercase_extension(it->path()) == ".safetensors")
        list.push_back({it->path().stem().string(), it->path()});
  std::sort(list.begin(), list.end(), [](const LoraFileEntry& a, const LoraFileEntry& b) { return a.name < b.name; });
  std::lock_guard<std::mutex> lock(lists_mutex_);
  loras_ = std::move(list);
}

std::vector<Checkpoint> ModelCatalog::checkpoints() const {
  std::lock_guard<std::mutex> lock(lists_mutex_);
  return checkpoints_;
}

std::vector<LoraFileEntry> ModelCatalog::loras() const {
  std::lock_guard<std::mutex> lock(lists_mutex_);
  return loras_;
}

std::string ModelCatalog::sha256(const Checkpoint& c) const {
  if (!c.single_file) return "";
  std::error_code ec;
  const uintmax_t size = fs::file_size(c.path, ec);
  const auto mtime = fs::last_write_time(c.path, ec);
  std::lock_guard<std::mutex> lock(hashes_mutex_);
  auto it = hashes_.find(c.path);
  if (it == hashes_.end() || it->second.size != size || it->second.mtime != mtime)
    it = hashes_.insert_or_assign(c.path, KnownHash{size, mtime, api::file_hash(c.path.string())}).first;
  return it->second.sha256;
}

std::string ModelCatalog::title(const Checkpoint& c) const {
  const std::string hash = sha256(c);
  return hash.empty() ? c.name : c.name + " [" + hash.substr(0, 10) + "]";
}

std::optional<Checkpoint> ModelCatalog::find_checkpoint(const std::string& name) const {
  for (const auto& c : checkpoints())
    if (c.name == name || c.path.filename().string() == name || title(c) == name) return c;
  return std::nullopt;
}

std::optional<LoraFileEntry> ModelCatalog::find_lora(const std::string& name) const {
  for (const auto& l : loras())
    if (l.name == name) return l;
  return std::nullopt;
}

namespace {

// Bytes of weights on disk: a file, or a folder's .safetensors / .bin files.
uintmax_t weight_bytes(const fs::path& path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) return fs::file_size(path, ec);
  uintmax_t total = 0;
  for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string ext = lowercase_extension(it->path());
    if ((ext == ".safetensors" || ext == ".bin") && it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

}  // namespace

void ModelCatalog::load(const Checkpoint& c) {
  sdxl_engine_params params;
  sdxl_engine_params_init(&params);
  const std::string model = c.path.string();
  params.model_dir = model.c_str();
  params.refiner_dir = options_.refiner.c_str();
  params.precision = options_.precision.c_str();
  params.memory_policy = SDXL_MEMORY_KEEP_LOADED;
  params.config_dir = c.single_file && !options_.config.empty() ? options_.config.c_str() : nullptr;
  params.lora_dir = options_.lora_dir.c_str();
  params.vae_path = options_.vae.c_str();
  params.taesd_dir = options_.taesd.c_str();
  // The new model is loaded beside the old one where memory allows (twice its files: fp16 files
  // load as fp32), so a failure leaves the old one serving; else the old weights go first.
  const uintmax_t files = weight_bytes(c.path);
  const bool beside = !engine_ || static_cast<uintmax_t>(system_memory().available_bytes) > 2 * files + files / 4;
  if (!beside) {
    std::unique_lock<std::shared_mutex> lock(engine_mutex_);
    sdxl_engine_free(engine_);
    engine_ = nullptr;
    current_.clear();
  }
  sdxl_engine* fresh = nullptr;
  api::check(sdxl_engine_load(&params, &fresh));
  std::unique_lock<std::shared_mutex> lock(engine_mutex_);
  sdxl_engine_free(engine_);
  engine_ = fresh;
  current_ = c.name;
  last_loaded_ = c.name;
}

void ModelCatalog::use(const std::string& name) {
  // No engine (a switch failed and so did going back): the next job loads the last good one.
  const std::string wanted = !name.empty() ? name : engine_ ? current_ : last_loaded_;
  if (wanted.empty() || (wanted == current_ && engine_)) return;
  const auto c = find_checkpoint(wanted);
  if (!c) throw RequestError(404, "sd_model_checkpoint", "no checkpoint named '" + wanted + "'");
  const auto previous = find_checkpoint(engine_ ? current_ : last_loaded_);
  try {
    load(*c);
  } catch (const api::Failure& e) {
    std::string message = "checkpoint '" + wanted + "' does not load: " + e.what();
    const int status = e.status() == SDXL_STATUS_OUT_OF_MEMORY ? 507 : 422;
    if (!engine_ && previous && previous->name != wanted) {
      // The old one was freed for it: load it back (a failure here is retried by the next job).
      try {
        load(*previous);
      } catch (const api::Failure& again) {
        message += "; and '" + previous->name + "' did not load back either (" + again.what() +
                   "): no checkpoint is loaded until one does (the next request tries again)";
      }
    }
    throw RequestError(status, "sd_model_checkpoint", message);
  }
}

}  // namespace sdxl::server

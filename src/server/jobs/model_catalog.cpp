#include "server/jobs/model_catalog.h"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "sdxl/sdxl.hpp"
#include "server/http/request_fields.h"
#include "server/system_memory.h"
#include "server/service/service_log.h"
#include "server/service/service_metrics.h"

namespace sdxl::server {
namespace {

namespace fs = std::filesystem;

std::string lowercase_extension(const fs::path& p) { return ascii_lowercase(p.extension().string()); }

// What AUTOMATIC1111 lists: safetensors and the torch files (read without running them).
bool is_weights_file(const fs::path& p) {
  const std::string ext = lowercase_extension(p);
  return ext == ".safetensors" || ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin";
}

}  // namespace

ModelCatalog::ModelCatalog(ServerOptions options) : options_(std::move(options)) {
  if (!options_.styles_file.empty()) styles_ = PromptStyles::load(options_.styles_file);
  refresh_checkpoints();
  refresh_loras();
  refresh_controlnets();
  if (options_.queue_url.empty()) {  // a queue's front end generates nothing
    load(checkpoints_.front());
    default_ = current_ = checkpoints_.front().name;
  }
}

ModelCatalog::~ModelCatalog() {
  for (auto& l : loaded_) sdxl_engine_free(l.engine);
}

std::string ModelCatalog::default_checkpoint() const {
  std::shared_lock<std::shared_mutex> lock(engine_mutex_);
  return default_;
}

sdxl_engine* ModelCatalog::engine() const {
  for (const auto& l : loaded_)
    if (l.name == current_) return l.engine;
  return nullptr;
}

std::vector<std::string> ModelCatalog::loaded() const {
  std::shared_lock<std::shared_mutex> lock(engine_mutex_);
  std::vector<std::string> names;
  for (const auto& l : loaded_) names.push_back(l.name);
  return names;
}

sdxl_engine* ModelCatalog::checking_engine() const {
  for (const auto& l : loaded_)
    if (l.name == default_) return l.engine;
  return loaded_.empty() ? nullptr : loaded_.back().engine;
}

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
      else if (entry.is_regular_file(ec) && is_weights_file(p)) found.push_back({p.stem().string(), p, true});
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
      if (it->is_regular_file(ec) && is_weights_file(it->path()))
        list.push_back({it->path().stem().string(), it->path()});
  std::sort(list.begin(), list.end(), [](const LoraFileEntry& a, const LoraFileEntry& b) { return a.name < b.name; });
  std::lock_guard<std::mutex> lock(lists_mutex_);
  loras_ = std::move(list);
}

namespace {

// The file whose hash names a ControlNet: itself, or a diffusers folder's weights.
fs::path controlnet_weights(const fs::path& entry) {
  std::error_code ec;
  if (!fs::is_directory(entry, ec)) return entry;
  for (const char* name : {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                           "diffusion_pytorch_model.bin"})
    if (fs::is_regular_file(entry / name, ec)) return entry / name;
  return {};
}

}  // namespace

void ModelCatalog::refresh_controlnets() {
  std::vector<ControlNetEntry> list;
  std::error_code ec;
  if (!options_.controlnet_dir.empty())
    for (auto it = fs::recursive_directory_iterator(options_.controlnet_dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const fs::path& p = it->path();
      const bool folder = it->is_directory(ec) && fs::is_regular_file(p / "config.json", ec) && !controlnet_weights(p).empty();
      const bool file = it->is_regular_file(ec) && is_weights_file(p) &&
                        p.filename().string().rfind("diffusion_pytorch_model", 0) != 0;
      if (!folder && !file) continue;
      if (folder) it.disable_recursion_pending();
      ControlNetEntry e{folder ? p.filename().string() : p.stem().string(), "", p};
      char* hex = nullptr;
      const std::string weights = controlnet_weights(p).string();
      e.title = e.name + " [" + (sdxl_file_hash(weights.c_str(), SDXL_HASH_A1111_SHORT, &hex) == SDXL_STATUS_OK ? hex : "NOFILE") + "]";
      sdxl_free_string(hex);
      list.push_back(std::move(e));
    }
  std::sort(list.begin(), list.end(), [](const ControlNetEntry& a, const ControlNetEntry& b) { return a.name < b.name; });
  std::lock_guard<std::mutex> lock(lists_mutex_);
  controlnets_ = std::move(list);
}

std::vector<ControlNetEntry> ModelCatalog::controlnets() const {
  std::lock_guard<std::mutex> lock(lists_mutex_);
  return controlnets_;
}

std::optional<ControlNetEntry> ModelCatalog::find_controlnet(const std::string& name) const {
  std::string bare = name;
  if (const size_t bracket = bare.rfind(" ["); bracket != std::string::npos && !bare.empty() && bare.back() == ']')
    bare.resize(bracket);
  for (const auto& c : controlnets())
    if (c.title == name || ascii_lowercase(c.name) == ascii_lowercase(bare)) return c;
  return std::nullopt;
}

std::vector<std::pair<std::string, fs::path>> ModelCatalog::upscalers() const {
  std::vector<std::pair<std::string, fs::path>> list;
  std::error_code ec;
  if (!options_.upscaler_dir.empty())
    for (auto it = fs::directory_iterator(options_.upscaler_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec) && is_weights_file(it->path())) list.emplace_back(it->path().stem().string(), it->path());
  std::sort(list.begin(), list.end());
  return list;
}

std::optional<fs::path> ModelCatalog::find_upscaler(const std::string& name) const {
  const auto list = upscalers();
  for (const auto& [n, path] : list)
    if (n == name) return path;
  for (const auto& [n, path] : list)
    if (ascii_lowercase(n) == ascii_lowercase(name)) return path;
  return std::nullopt;
}

std::optional<fs::path> ModelCatalog::find_image_encoder(const std::string& name) const {
  if (options_.image_encoder_dir.empty() || name.empty() || name.find_first_of("/\\") != std::string::npos || name == "." ||
      name == "..")
    return std::nullopt;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.image_encoder_dir, ec)) {
    const fs::path& p = entry.path();
    const bool folder = entry.is_directory(ec) && fs::is_regular_file(p / "config.json", ec);
    const bool file = entry.is_regular_file(ec) && is_weights_file(p);
    if ((folder && ascii_lowercase(p.filename().string()) == ascii_lowercase(name)) ||
        (file && ascii_lowercase(p.stem().string()) == ascii_lowercase(name)))
      return p;
  }
  return std::nullopt;
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

// What loading `c` takes: twice its files (fp16 files load as fp32) and a quarter more.
uintmax_t load_bytes(const Checkpoint& c) {
  const uintmax_t files = weight_bytes(c.path);
  return 2 * files + files / 4;
}

}  // namespace

void ModelCatalog::free_least_recent() {
  std::unique_lock<std::shared_mutex> lock(engine_mutex_);
  service_log(SDXL_LOG_LEVEL_INFO, "model_freed", {{"model", loaded_.front().name}}, "the least recently used checkpoint, to make room");
  sdxl_engine_free(loaded_.front().engine);
  loaded_.erase(loaded_.begin());
}

// Frees the least recently used engines until one more fits under --models-in-memory and, by its
// files, in the memory available; a failed load then leaves the others serving.
void ModelCatalog::make_room_for(const Checkpoint& c) {
  const size_t most = std::max<size_t>(1, options_.models_in_memory);
  while (loaded_.size() >= most) free_least_recent();
  while (!loaded_.empty() && static_cast<uintmax_t>(std::max<int64_t>(0, system_memory().available_bytes)) < load_bytes(c))
    free_least_recent();
}

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
  const std::string cache = api::packed_cache_folder(options_.packed_cache_dir, options_.packed_cache_off);
  params.packed_cache_dir = cache.c_str();
  params.packed_cache_max_gb = options_.packed_cache_max_gb;
  make_room_for(c);
  sdxl_engine* fresh = nullptr;
  const auto started = std::chrono::steady_clock::now();
  const sdxl_status status = sdxl_engine_load(&params, &fresh);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (status != SDXL_STATUS_OK) {
    service_metrics().model_load_failures.add();
    service_log(SDXL_LOG_LEVEL_ERROR, "model_load", {{"model", c.name}, {"seconds", seconds}}, sdxl_last_error());
  }
  api::check(status);
  service_metrics().model_loads.observe(seconds);
  service_log(SDXL_LOG_LEVEL_INFO, "model_load", {{"model", c.name}, {"precision", options_.precision}, {"seconds", std::round(seconds * 1000) / 1000}});
  std::unique_lock<std::shared_mutex> lock(engine_mutex_);
  loaded_.push_back({c.name, fresh});
}

void ModelCatalog::use(const std::string& name) {
  const std::string wanted = name.empty() ? default_checkpoint() : name;
  if (wanted.empty()) return;
  const auto c = find_checkpoint(wanted);
  if (!c) throw RequestError(404, "sd_model_checkpoint", "no checkpoint named '" + wanted + "'");
  const auto it = std::find_if(loaded_.begin(), loaded_.end(), [&](const Loaded& l) { return l.name == c->name; });
  if (it != loaded_.end()) {
    std::unique_lock<std::shared_mutex> lock(engine_mutex_);
    std::rotate(it, it + 1, loaded_.end());  // now the most recently used
  } else {
    try {
      load(*c);
    } catch (const api::Failure& e) {
      throw RequestError(e.status() == SDXL_STATUS_OUT_OF_MEMORY ? 507 : 422, "sd_model_checkpoint",
                         "checkpoint '" + c->name + "' does not load: " + e.what());
    }
  }
  current_ = c->name;
}

void ModelCatalog::set_default(const std::string& name) {
  use(name);
  std::unique_lock<std::shared_mutex> lock(engine_mutex_);
  default_ = current_;
}

}  // namespace sdxl::server

#include "pipeline/sources/packed_layers.h"

#include "core/error.h"
#include "core/log.h"
#include "io/file_hash.h"
#include "ops.h"

namespace sdxl::pipeline {
namespace {

// Bumped whenever what a layer's bytes mean changes without the version changing (how layers
// are fused, ordered or packed): an entry of another format is never found.
constexpr int kPackedFormat = 1;

}  // namespace

std::filesystem::path default_packed_cache_dir() {
  const std::filesystem::path root = io::default_cache_root();
  return root.empty() ? root : root / "packed";
}

std::optional<std::string> packed_cache_key(const std::string& component, const nlohmann::json& config,
                                            const io::WeightSet& weights, Precision precision) {
  std::string key = "sdxl " SDXL_VERSION_STRING " packed layers, format " + std::to_string(kPackedFormat) + "\n";
  key += "component: " + component + "\n";
  key += std::string("precision: ") + (precision == Precision::BF16 ? "bf16" : "f32") + "\n";
  key += "config: " + config.dump() + "\n";
  try {
    for (const auto& file : weights.files()) key += io::file_key_line(file->path());
  } catch (const Error& e) {
    log_warn("[cache] ", component, " is not cached: ", e.what());
    return std::nullopt;
  }
  if (const auto& patch = weights.patch()) {
    const std::string identity = patch->identity();
    if (identity.empty()) return std::nullopt;
    key += identity;
  }
  return key + ops::packing_identity();
}

// A cache that cannot be written (a full disk, a read-only folder) costs the next load its
// speed, never this load: the failure is logged and the layers are packed as without a cache.
PackedLayers::PackedLayers(const PackedCacheSettings& settings, std::string key)
    : folder_(settings.dir, static_cast<uint64_t>(settings.max_gb * double(uint64_t{1} << 30))), key_(std::move(key)) {
  try {
    file_ = folder_.entry_file(key_);
    entry_ = io::PackedCacheEntry::open(file_, key_);
    if (entry_) {
      io::PackedCacheFolder::touch(file_);
      log_info("[cache] packed layers from ", file_.string(), " (", entry_->layers(), " layers, ",
               entry_->bytes() >> 20, " MiB)");
    } else {
      writer_ = std::make_unique<io::PackedCacheWriter>(file_, key_);
    }
  } catch (const Error& e) {
    log_warn("[cache] not used: ", e.what());
  }
}

const PackedImage* PackedLayers::find(const std::string& name) const { return entry_ ? entry_->find(name) : nullptr; }

void PackedLayers::keep(const std::string& name, const PackedImage& image) {
  if (!writer_) return;
  try {
    writer_->add(name, image);
  } catch (const Error& e) {
    log_warn("[cache] not written: ", e.what());
    writer_.reset();
  }
}

void PackedLayers::refuse(const std::string& name) {
  if (!refused_) log_warn("[cache] ", file_.string(), ": '", name, "' is not packed as this machine packs it; ",
                          "the entry is removed and made again at the next load");
  refused_ = true;
}

void PackedLayers::finish() {
  if (refused_) {
    std::error_code ec;
    std::filesystem::remove(file_, ec);
    return;
  }
  if (!writer_) return;
  try {
    writer_->commit();
    log_info("[cache] packed layers written to ", file_.string());
    folder_.trim(file_);
  } catch (const Error& e) {
    log_warn("[cache] not written: ", e.what());
  }
  writer_.reset();
}

}  // namespace sdxl::pipeline

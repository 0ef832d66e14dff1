// The packed-weight cache as model loading uses it: where it lives and how large it may grow,
// the key of a component's entry, and the store a binder finds and keeps packed layers in.
//
// The first load of a component at a precision on a machine packs its layers as usual and writes
// them to a new entry; later loads map that entry and use the mapped bytes as the layers' packed
// weights (no copy, no conversion, the checkpoint's large tensors not read). io/packed_cache.h
// has the files' format and how a bad file is found.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/op_types.h"
#include "io/packed_cache.h"
#include "io/weight_set.h"
#include "models/common/weights.h"
#include "nlohmann/json.hpp"

namespace sdxl::pipeline {

struct PackedCacheSettings {
  std::filesystem::path dir;  // empty: no cache (every load packs)
  double max_gb = 64;         // the folder's bound: least recently used entries go first
};

// "packed" in sdxl's cache folder ($SDXL_CACHE_DIR, $XDG_CACHE_HOME/sdxl or ~/.cache/sdxl;
// io/file_hash.h): empty when none of them is set.
std::filesystem::path default_packed_cache_dir();

// Everything a component's packed layers depend on, as text: this build's packing, the
// checkpoint files' identities, the config, the precision, the LoRAs merged as it is read
// (nullopt when their identity, or a file's, is unknown: such a load is not cached), the CPU and
// libraries.
std::optional<std::string> packed_cache_key(const std::string& component, const nlohmann::json& config,
                                            const io::WeightSet& weights, Precision precision);

// One component's load: layers come from its entry when the cache has a sound one, and are
// written to a new entry otherwise. finish() after the model is bound: the new entry is put in
// place (and the folder trimmed to its bound), or an entry whose bytes this machine refused is removed.
class PackedLayers final : public models::PackedLayerStore {
 public:
  PackedLayers(const PackedCacheSettings& settings, std::string key);
  const PackedImage* find(const std::string& name) const override;
  void keep(const std::string& name, const PackedImage& image) override;
  void refuse(const std::string& name) override;
  void finish();
  bool reused() const { return entry_ != nullptr; }

 private:
  io::PackedCacheFolder folder_;
  std::filesystem::path file_;
  std::string key_;
  std::shared_ptr<const io::PackedCacheEntry> entry_;
  std::unique_ptr<io::PackedCacheWriter> writer_;
  bool refused_ = false;
};

}  // namespace sdxl::pipeline

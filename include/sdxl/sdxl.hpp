// A thin RAII C++ layer over sdxl.h: failures become sdxl::api::Failure exceptions.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "sdxl/sdxl.h"

namespace sdxl::api {

class Failure : public std::runtime_error {
 public:
  Failure(sdxl_status status, const std::string& message, std::string parameter = "")
      : std::runtime_error(message), status_(status), parameter_(std::move(parameter)) {}
  sdxl_status status() const { return status_; }
  // The sdxl_generate_params member at fault (sdxl_last_error_parameter), or "".
  const std::string& parameter() const { return parameter_; }

 private:
  sdxl_status status_;
  std::string parameter_;
};

inline void check(sdxl_status status) {
  if (status != SDXL_STATUS_OK) throw Failure(status, sdxl_last_error(), sdxl_last_error_parameter());
}

// Owns a string allocated by the library.
inline std::string take_string(char* text) {
  std::string out = text ? text : "";
  sdxl_free_string(text);
  return out;
}

inline std::string model_info(const std::string& model_dir, const std::string& variant, bool as_json) {
  sdxl_info_params params;
  sdxl_info_params_init(&params);
  params.model_dir = model_dir.c_str();
  params.variant = variant.c_str();
  params.as_json = as_json ? 1 : 0;
  char* report = nullptr;
  check(sdxl_model_info(&params, &report));
  return take_string(report);
}

inline std::string tokenize(const std::string& model_dir, const std::string& text, const std::string& syntax = "plain",
                            const std::string& embedding_dir = "", bool as_json = false) {
  sdxl_tokenize_params params;
  sdxl_tokenize_params_init(&params);
  params.model_dir = model_dir.c_str();
  params.text = text.c_str();
  params.prompt_syntax = syntax.c_str();
  params.embedding_dir = embedding_dir.empty() ? nullptr : embedding_dir.c_str();
  params.as_json = as_json ? 1 : 0;
  char* report = nullptr;
  check(sdxl_tokenize(&params, &report));
  return take_string(report);
}

inline std::string file_hash(const std::string& path, sdxl_hash_kind kind = SDXL_HASH_FILE) {
  char* hex = nullptr;
  check(sdxl_file_hash(path.c_str(), kind, &hex));
  return take_string(hex);
}

// What an engine loads (sdxl_engine_params, owned): a base model and an optional refiner, with
// the defaults of sdxl_engine_params_init.
struct EngineOptions {
  std::string model_dir, refiner_dir, variant;
  std::string precision = "fp32";
  sdxl_memory_policy memory = SDXL_MEMORY_KEEP_LOADED;
  std::string taesd_dir;
  bool taesd_encode = false;
  std::string config_dir, refiner_config_dir;  // single-file checkpoints' architectures
  std::string vae_path, lora_dir;
  std::string packed_cache_dir;  // "": no packed-weight cache (sdxl_engine_params)
  double packed_cache_max_gb = 64;
};

// The folder a tool's --cache-dir / --no-cache name for packed_cache_dir: none when `off`, the
// default one (sdxl_packed_cache_default_dir) when none is given.
inline std::string packed_cache_folder(const std::string& given, bool off) {
  if (off) return "";
  return given.empty() ? std::string(sdxl_packed_cache_default_dir()) : given;
}

// Owns a loaded engine.
class Engine {
 public:
  explicit Engine(const EngineOptions& options) {
    sdxl_engine_params params;
    sdxl_engine_params_init(&params);
    params.model_dir = options.model_dir.c_str();
    params.refiner_dir = options.refiner_dir.c_str();
    params.variant = options.variant.c_str();
    params.precision = options.precision.c_str();
    params.memory_policy = options.memory;
    params.taesd_dir = options.taesd_dir.c_str();
    params.taesd_encode = options.taesd_encode ? 1 : 0;
    params.config_dir = options.config_dir.c_str();
    params.refiner_config_dir = options.refiner_config_dir.c_str();
    params.lora_dir = options.lora_dir.c_str();
    params.vae_path = options.vae_path.c_str();
    params.packed_cache_dir = options.packed_cache_dir.c_str();
    params.packed_cache_max_gb = options.packed_cache_max_gb;
    check(sdxl_engine_load(&params, &engine_));
  }
  explicit Engine(const std::string& model_dir) : Engine(with_model(model_dir)) {}
  ~Engine() { sdxl_engine_free(engine_); }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  sdxl_engine* get() const { return engine_; }
  bool is_refiner() const { return sdxl_engine_is_refiner(engine_) != 0; }
  bool has_refiner() const { return sdxl_engine_has_refiner(engine_) != 0; }
  void release_memory() const { check(sdxl_engine_release_memory(engine_)); }

 private:
  static EngineOptions with_model(const std::string& model_dir) {
    EngineOptions options;
    options.model_dir = model_dir;
    return options;
  }
  sdxl_engine* engine_ = nullptr;
};

// Owns generated images.
class Images {
 public:
  Images(const Engine& engine, const sdxl_generate_params& params) {
    check(sdxl_engine_generate(engine.get(), &params, &images_));
  }
  ~Images() { sdxl_images_free(images_); }
  Images(const Images&) = delete;
  Images& operator=(const Images&) = delete;
  const sdxl_images& operator*() const { return *images_; }
  const sdxl_images* get() const { return images_; }
  int count() const { return images_->count; }
  void write_png(const std::string& path, int index, const std::string& parameters) const {
    check(sdxl_write_png(path.c_str(), images_, index, parameters.c_str()));
  }
  void write_latents(const std::string& path) const { check(sdxl_write_latents(path.c_str(), images_)); }
  // Image `index` encoded as `format` ("png", "jpeg", "webp"; quality 0: 80), parameters inside.
  std::string encode(int index, const std::string& format, int quality, const std::string& parameters) const {
    unsigned char* bytes = nullptr;
    size_t size = 0;
    check(sdxl_encode_image_as(images_, index, format.c_str(), quality, 0, parameters.c_str(), &bytes, &size));
    std::string out(reinterpret_cast<char*>(bytes), size);
    sdxl_free_bytes(bytes);
    return out;
  }
  // AUTOMATIC1111's parameters text of image `index`, as `engine` made it from `params`.
  std::string infotext(const Engine& engine, const sdxl_generate_params& params, int index) const {
    char* text = nullptr;
    check(sdxl_engine_infotext(engine.get(), &params, images_, index, &text));
    return take_string(text);
  }

 private:
  sdxl_images* images_ = nullptr;
};

}  // namespace sdxl::api

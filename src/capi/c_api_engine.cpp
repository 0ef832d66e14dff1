// The C API's engine entry points: load, generate, check, capacity, infotext. Parameters become
// an EngineRequest in c_api_request.cpp; the recipe itself is the pipeline's (pipeline/engine.h).
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "capi/c_api_guard.h"
#include "capi/c_api_images.h"
#include "capi/c_api_request.h"
#include "core/error.h"
#include "core/memory.h"
#include "pipeline/engine.h"
#include "pipeline/request/engine_capacity.h"
#include "pipeline/request/infotext.h"
#include "sdxl/sdxl.h"

struct sdxl_engine {
  std::unique_ptr<sdxl::pipeline::Engine> engine;
  std::mutex busy;  // held by the generation in progress (try_lock: a second caller gets BUSY)
};

using sdxl::capi::Purpose;
using sdxl::capi::to_images;
using sdxl::capi::to_request;

extern "C" {

void sdxl_engine_params_init(sdxl_engine_params* params) {
  if (!params) return;
  params->model_dir = nullptr;
  params->refiner_dir = nullptr;
  params->variant = nullptr;
  params->precision = "fp32";
  params->memory_policy = SDXL_MEMORY_KEEP_LOADED;
  params->taesd_dir = nullptr;
  params->taesd_encode = 0;
  params->config_dir = nullptr;
  params->refiner_config_dir = nullptr;
  params->lora_dir = nullptr;
  params->vae_path = nullptr;
  params->packed_cache_dir = nullptr;
  params->packed_cache_max_gb = 64;
}

const char* sdxl_packed_cache_default_dir(void) {
  static const std::string dir = sdxl::pipeline::default_packed_cache_dir().string();
  return dir.c_str();
}

sdxl_status sdxl_engine_load(const sdxl_engine_params* params, sdxl_engine** engine) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(params && engine, InvalidArgument, "[load] params and engine must not be NULL");
    *engine = nullptr;
    SDXL_CHECK(params->model_dir && *params->model_dir, InvalidArgument, "[load] no model folder given");
    const std::string precision = params->precision ? params->precision : "fp32";
    SDXL_CHECK(precision == "fp32" || precision == "bf16", InvalidArgument, "[load] precision '", precision,
               "' is not one of fp32, bf16");
    const int policy = sdxl::capi::c_enum_value(params->memory_policy);
    SDXL_CHECK(policy == SDXL_MEMORY_KEEP_LOADED || policy == SDXL_MEMORY_ONE_SHOT, InvalidArgument,
               "[load] unknown memory policy ", policy);
    sdxl::pipeline::EngineOptions options;
    options.model = params->model_dir;
    if (params->refiner_dir) options.refiner = params->refiner_dir;
    options.variant = params->variant ? params->variant : "";
    options.precision = precision == "bf16" ? sdxl::ops::Precision::BF16 : sdxl::ops::Precision::F32;
    options.memory = policy == SDXL_MEMORY_ONE_SHOT ? sdxl::pipeline::MemoryPolicy::OneShot
                                                                   : sdxl::pipeline::MemoryPolicy::KeepLoaded;
    if (params->taesd_dir && *params->taesd_dir) options.taesd = params->taesd_dir;
    SDXL_CHECK(!params->taesd_encode || !options.taesd.empty(), InvalidArgument, "[load] taesd_encode needs taesd_dir");
    options.taesd_encode = params->taesd_encode != 0;
    if (params->config_dir && *params->config_dir) options.config = params->config_dir;
    if (params->refiner_config_dir && *params->refiner_config_dir) options.refiner_config = params->refiner_config_dir;
    if (params->lora_dir && *params->lora_dir) options.lora_dir = params->lora_dir;
    if (params->vae_path && *params->vae_path) options.vae = params->vae_path;
    if (params->packed_cache_dir && *params->packed_cache_dir) {
      SDXL_CHECK_PARAM(std::isfinite(params->packed_cache_max_gb) && params->packed_cache_max_gb > 0, InvalidArgument,
                       "packed_cache_max_gb", "[load] packed_cache_max_gb must be a positive number of GiB, got ",
                       params->packed_cache_max_gb);
      options.packed_cache = {params->packed_cache_dir, params->packed_cache_max_gb};
    }
    auto out = std::make_unique<sdxl_engine>();
    out->engine = sdxl::pipeline::Engine::load(options);
    *engine = out.release();
  });
}

void sdxl_engine_free(sdxl_engine* engine) {
  delete engine;
  sdxl::return_free_memory_to_system();  // gigabytes of weights: give them back, not to the allocator's pool
}

int sdxl_engine_is_refiner(const sdxl_engine* engine) { return engine && engine->engine->is_refiner() ? 1 : 0; }
int sdxl_engine_has_refiner(const sdxl_engine* engine) { return engine && engine->engine->has_refiner() ? 1 : 0; }

sdxl_status sdxl_engine_generate(sdxl_engine* engine, const sdxl_generate_params* params, sdxl_images** images) {
  if (engine && !engine->busy.try_lock()) {
    sdxl::capi::last_error() = "[engine] busy: this engine is running another generation";
    if (images) *images = nullptr;
    return SDXL_STATUS_BUSY;
  }
  std::unique_lock<std::mutex> held;
  if (engine) held = std::unique_lock<std::mutex>(engine->busy, std::adopt_lock);
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && params && images, InvalidArgument, "[generate] engine, params and images must not be NULL");
    *images = nullptr;
    const auto request = to_request(*params, *engine->engine, Purpose::Run);
    *images = to_images(engine->engine->generate(request), request, engine->engine->options());
  });
}

sdxl_status sdxl_engine_estimate_memory(const sdxl_engine* engine, const sdxl_generate_params* params,
                                        double* needed_gib, double* available_gib) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && params && needed_gib, InvalidArgument, "[memory] engine, params and needed_gib must not be NULL");
    const auto estimate = engine->engine->estimate_memory(to_request(*params, *engine->engine, Purpose::Check));
    *needed_gib = estimate.needed_gib();
    if (available_gib) *available_gib = estimate.available_gib;
  });
}

sdxl_status sdxl_engine_check(const sdxl_engine* engine, const sdxl_generate_params* params) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && params, InvalidArgument, "[generate] engine and params must not be NULL");
    engine->engine->check(to_request(*params, *engine->engine, Purpose::Check));
  });
}

sdxl_status sdxl_engine_capacity(const sdxl_engine* engine, char** json) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && json, InvalidArgument, "[capacity] engine and json must not be NULL");
    *json = sdxl::capi::copy_string(sdxl::pipeline::to_json(engine->engine->capacity()).dump());
  });
}

sdxl_status sdxl_check_capacity(const char* capacity_json, const sdxl_generate_params* params) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(capacity_json && params, InvalidArgument, "[capacity] capacity_json and params must not be NULL");
    const auto parsed = nlohmann::json::parse(capacity_json, nullptr, false);
    SDXL_CHECK(!parsed.is_discarded(), Format, "[capacity] not JSON");
    const sdxl::pipeline::EngineCapacity capacity = sdxl::pipeline::capacity_from_json(parsed);
    sdxl::pipeline::check_request(capacity, to_request(*params, nullptr, capacity.vae_scale, capacity.has_refiner, Purpose::Check));
  });
}

sdxl_status sdxl_engine_release_memory(sdxl_engine* engine) {
  if (!engine) {
    sdxl::capi::last_error() = "[memory] engine must not be NULL";
    return SDXL_STATUS_INVALID_ARGUMENT;
  }
  if (!engine->busy.try_lock()) {
    sdxl::capi::last_error() = "[engine] busy: this engine is running a generation";
    return SDXL_STATUS_BUSY;
  }
  std::lock_guard<std::mutex> held(engine->busy, std::adopt_lock);
  return sdxl::capi::guarded([&] { engine->engine->release_memory(); });
}

sdxl_status sdxl_engine_infotext(const sdxl_engine* engine, const sdxl_generate_params* p, const sdxl_images* images,
                                 int index, char** text) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(engine && p && images && text, InvalidArgument, "[infotext] engine, params, images and text must not be NULL");
    SDXL_CHECK(index >= 0 && index < images->count, InvalidArgument, "[infotext] image ", index, " of ", images->count);
    *text = nullptr;
    sdxl::pipeline::InfotextFields f = sdxl::capi::ran_with(images, index);
    f.version = sdxl_version();
    *text = sdxl::capi::copy_string(sdxl::pipeline::a1111_infotext(f));
  });
}

}  // extern "C"

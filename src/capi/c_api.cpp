// The C API edge: every entry point catches exceptions and turns them into status codes.
#include <cstdlib>
#include <cstring>
#include <new>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/log.h"
#include "core/threads.h"
#include "io/file_hash.h"
#include "capi/c_api_guard.h"
#include "pipeline/sources/model_info.h"
#include "pipeline/prompts/textual_inversion.h"
#include "pipeline/prompts/tokenize_report.h"
#include "sdxl/sdxl.h"

extern "C" {

const char* sdxl_version(void) { return SDXL_VERSION_STRING; }

const char* sdxl_status_name(sdxl_status status) {
  switch (status) {
    case SDXL_STATUS_OK: return "ok";
    case SDXL_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case SDXL_STATUS_IO_ERROR: return "i/o error";
    case SDXL_STATUS_FORMAT_ERROR: return "format error";
    case SDXL_STATUS_UNSUPPORTED: return "unsupported";
    case SDXL_STATUS_OUT_OF_MEMORY: return "out of memory";
    case SDXL_STATUS_INTERNAL_ERROR: return "internal error";
    case SDXL_STATUS_CANCELLED: return "cancelled";
    case SDXL_STATUS_BUSY: return "busy";
  }
  return "unknown status";
}

const char* sdxl_last_error(void) { return sdxl::capi::last_error().c_str(); }
const char* sdxl_last_error_parameter(void) { return sdxl::capi::last_error_parameter().c_str(); }

void sdxl_free_string(char* text) { std::free(text); }

void sdxl_set_log_callback(sdxl_log_callback callback, void* user_data) {
  if (!callback) {
    sdxl::set_log_sink({});
    return;
  }
  sdxl::set_log_sink([callback, user_data](sdxl::LogLevel level, const std::string& message) {
    callback(static_cast<sdxl_log_level>(level), message.c_str(), user_data);
  });
}

void sdxl_set_log_level(sdxl_log_level level) { sdxl::set_log_level(static_cast<sdxl::LogLevel>(level)); }

void sdxl_set_num_threads(int threads) { sdxl::set_num_threads(threads); }

void sdxl_info_params_init(sdxl_info_params* params) {
  if (!params) return;
  params->model_dir = nullptr;
  params->variant = nullptr;
  params->as_json = 0;
}

sdxl_status sdxl_model_info(const sdxl_info_params* params, char** report) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(params && report, InvalidArgument, "[info] params and report must not be NULL");
    SDXL_CHECK(params->model_dir && *params->model_dir, InvalidArgument, "[info] no model folder given");
    *report = nullptr;
    std::string text = sdxl::pipeline::describe_model(params->model_dir, params->variant ? params->variant : "",
                                                      params->as_json != 0);
    *report = sdxl::capi::copy_string(text);
  });
}

void sdxl_tokenize_params_init(sdxl_tokenize_params* params) {
  if (!params) return;
  params->model_dir = nullptr;
  params->text = nullptr;
  params->prompt_syntax = nullptr;
  params->embedding_dir = nullptr;
  params->as_json = 0;
}

sdxl_status sdxl_tokenize(const sdxl_tokenize_params* params, char** report) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(params && report, InvalidArgument, "[tokenize] params and report must not be NULL");
    SDXL_CHECK(params->model_dir && *params->model_dir, InvalidArgument, "[tokenize] no model folder given");
    SDXL_CHECK(params->text, InvalidArgument, "[tokenize] no text given");
    *report = nullptr;
    sdxl::pipeline::TokenizeRequest request;
    request.model = params->model_dir;
    request.text = params->text;
    request.syntax = sdxl::capi::prompt_syntax(params->prompt_syntax);
    if (params->embedding_dir) request.embedding_dir = params->embedding_dir;
    request.as_json = params->as_json != 0;
    *report = sdxl::capi::copy_string(sdxl::pipeline::tokenize_report(request));
  });
}

sdxl_status sdxl_file_hash(const char* path, sdxl_hash_kind kind, char** hex) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && *path && hex, InvalidArgument, "[hash] path and hex must not be NULL");
    const int which = sdxl::capi::c_enum_value(kind);
    SDXL_CHECK(which == SDXL_HASH_FILE || which == SDXL_HASH_SAFETENSORS_DATA || which == SDXL_HASH_A1111_SHORT,
               InvalidArgument, "[hash] unknown kind ", which);
    *hex = nullptr;
    if (which == SDXL_HASH_A1111_SHORT) {
      *hex = sdxl::capi::copy_string(sdxl::io::a1111_short_model_hash(path));
      return;
    }
    const auto k = which == SDXL_HASH_FILE ? sdxl::io::FileHashKind::WholeFile : sdxl::io::FileHashKind::SafetensorsData;
    *hex = sdxl::capi::copy_string(sdxl::io::file_sha256(path, k, sdxl::io::default_hash_cache()));
  });
}

sdxl_status sdxl_list_embeddings(const char* dir, char** json) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(dir && json, InvalidArgument, "[embeddings] dir and json must not be NULL");
    *json = nullptr;
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : sdxl::pipeline::list_textual_inversions(dir))
      list.push_back({{"name", e.name}, {"file", e.file.string()}, {"vectors", e.vectors}, {"clip_l_width", e.clip_l_width},
                      {"clip_g_width", e.clip_g_width}, {"error", e.problem.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.problem)}});
    *json = sdxl::capi::copy_string(list.dump());
  });
}

}  // extern "C"

/* sdxl: Stable Diffusion XL 1.0 inference. The public C API.
 *
 * Conventions: functions return an sdxl_status; on failure sdxl_last_error() gives a message
 * naming the stage, file, tensor or value at fault (valid until the next call on the thread).
 * Parameter structs are filled with defaults by their *_params_init() function first.
 * Strings returned to the caller are freed with sdxl_free_string(). */
#ifndef SDXL_SDXL_H
#define SDXL_SDXL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sdxl_status {
  SDXL_STATUS_OK = 0,
  SDXL_STATUS_INVALID_ARGUMENT = 1, /* a bad parameter value */
  SDXL_STATUS_IO_ERROR = 2,         /* a file could not be opened, read or written */
  SDXL_STATUS_FORMAT_ERROR = 3,     /* a file is malformed, truncated or inconsistent */
  SDXL_STATUS_UNSUPPORTED = 4,      /* a well-formed input sdxl cannot handle */
  SDXL_STATUS_OUT_OF_MEMORY = 5,
  SDXL_STATUS_INTERNAL_ERROR = 6
} sdxl_status;

typedef enum sdxl_log_level {
  SDXL_LOG_LEVEL_DEBUG = 0,
  SDXL_LOG_LEVEL_INFO = 1,
  SDXL_LOG_LEVEL_WARN = 2,
  SDXL_LOG_LEVEL_ERROR = 3,
  SDXL_LOG_LEVEL_OFF = 4
} sdxl_log_level;

typedef void (*sdxl_log_callback)(sdxl_log_level level, const char* message, void* user_data);

const char* sdxl_version(void);
const char* sdxl_status_name(sdxl_status status);
const char* sdxl_last_error(void);
void sdxl_free_string(char* text);

/* Messages at or above `level` go to `callback` (NULL: stderr). Default level: WARN. */
void sdxl_set_log_callback(sdxl_log_callback callback, void* user_data);
void sdxl_set_log_level(sdxl_log_level level);
/* Threads for all compute; <= 0 means all cores. */
void sdxl_set_num_threads(int threads);

/* ---- sdxl info -------------------------------------------------------------------------- */
typedef struct sdxl_info_params {
  const char* model_dir; /* a diffusers pipeline folder */
  const char* variant;   /* NULL or "" for the plain weights, "fp16" for *.fp16.safetensors */
  int as_json;           /* 0: a human-readable report, 1: JSON */
} sdxl_info_params;

void sdxl_info_params_init(sdxl_info_params* params);
/* Describes every component of the model: class, key config values, tensor and parameter
 * counts, dtypes, file sizes. Validates every weights file on the way. */
sdxl_status sdxl_model_info(const sdxl_info_params* params, char** report);

/* ---- sdxl tokenize ---------------------------------------------------------------------- */
typedef struct sdxl_tokenize_params {
  const char* model_dir; /* a diffusers pipeline folder */
  const char* text;      /* UTF-8 */
} sdxl_tokenize_params;

void sdxl_tokenize_params_init(sdxl_tokenize_params* params);
/* One line per tokenizer folder of the model ("tokenizer", "tokenizer_2"):
 * "<name>: <ids>" with the padded, truncated ids the text encoder receives. */
sdxl_status sdxl_tokenize(const sdxl_tokenize_params* params, char** report);

#ifdef __cplusplus
}
#endif

#endif /* SDXL_SDXL_H */

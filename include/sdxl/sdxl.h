/* sdxl: Stable Diffusion XL 1.0 inference. The public C API.
 *
 * Conventions: functions return an sdxl_status; on failure sdxl_last_error() gives a message
 * naming the stage, file, tensor or value at fault (per thread: valid until the next call on the
 * same thread). Parameter structs are filled with defaults by their *_params_init() function
 * first. Strings returned to the caller are freed with sdxl_free_string().
 *
 * Threads: an engine runs one generation at a time. A call on an engine that is already
 * generating (from another thread) returns SDXL_STATUS_BUSY at once, without waiting; queueing
 * is the caller's (the HTTP server keeps a FIFO). Different engines may generate at the same time
 * from different threads; they share the machine's cores. Everything else may be called from any
 * thread at any time. */
#ifndef SDXL_SDXL_H
#define SDXL_SDXL_H

#include <stddef.h> /* size_t */
#include <stdint.h>

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
  SDXL_STATUS_INTERNAL_ERROR = 6,
  SDXL_STATUS_CANCELLED = 7,        /* the progress callback asked to stop */
  SDXL_STATUS_BUSY = 8              /* the engine is running another generation */
} sdxl_status;

/* The limits of one generation request, the same for every front end. A request whose memory
 * estimate exceeds the machine's available memory is refused too (SDXL_STATUS_OUT_OF_MEMORY,
 * with the amount it needs in the message). */
#define SDXL_MIN_SIDE 64     /* pixels; sides are multiples of 8 */
#define SDXL_MAX_SIDE 4096
#define SDXL_MAX_STEPS 1000
#define SDXL_MAX_IMAGES 64   /* images per call: prompts x images per prompt */

typedef enum sdxl_log_level {
  SDXL_LOG_LEVEL_DEBUG = 0,
  SDXL_LOG_LEVEL_INFO = 1,
  SDXL_LOG_LEVEL_WARN = 2,
  SDXL_LOG_LEVEL_ERROR = 3,
  SDXL_LOG_LEVEL_OFF = 4
} sdxl_log_level;

typedef void (*sdxl_log_callback)(sdxl_log_level level, const char* message, void* user_data);

const char* sdxl_version(void);
/* Lines "name: value" for bug reports: version, git revision, the ISA the kernels were built
 * for and the CPU's, oneDNN and OpenBLAS versions, threads. Valid until the thread's next call. */
const char* sdxl_build_info(void);
const char* sdxl_status_name(sdxl_status status);
const char* sdxl_last_error(void);
/* The generation parameter the last error is about, by its sdxl_generate_params member name
 * ("steps", "width", "init_image", "loras", ...; "prompts" for a prompt's <lora:...> tag), so that
 * a front end can name its own field for it; "" when the error is not about one parameter. Per
 * thread, as sdxl_last_error. */
const char* sdxl_last_error_parameter(void);
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
/* How prompt text is read. "plain" (default): diffusers' way, 77 tokens (longer prompts are
 * truncated), brackets are text. "a1111": AUTOMATIC1111's: (emphasis:1.2), [less], \( escapes,
 * BREAK, any length in 75-token chunks (at most 20), textual-inversion embeddings by name. */
typedef struct sdxl_tokenize_params {
  const char* model_dir;     /* a diffusers pipeline folder */
  const char* text;          /* UTF-8 */
  const char* prompt_syntax; /* NULL or "plain", or "a1111" */
  const char* embedding_dir; /* a1111: textual-inversion embeddings (NAME.safetensors) */
  int as_json;               /* 0: text lines; 1: one JSON object (see below) */
} sdxl_tokenize_params;

void sdxl_tokenize_params_init(sdxl_tokenize_params* params);
/* Text: one line per tokenizer folder of the model ("tokenizer", "tokenizer_2") and chunk:
 * "<name>: <77 ids>" as the text encoder receives them. JSON: {"parts": [[text, weight], ...],
 * "tokenizer": {"ids": [[77 ids], ...], "weights": [[77 numbers], ...]}, "tokenizer_2": {...}},
 * one inner list per chunk; tokenizer_2's ids under "a1111" have every id after the first EOS
 * set to 0, as AUTOMATIC1111 sends them to the bigG encoder. */
sdxl_status sdxl_tokenize(const sdxl_tokenize_params* params, char** report);

/* ---- file hashes ---------------------------------------------------------------------------- */
/* SHA-256 of a model file, 64 lowercase hex digits (free with sdxl_free_string), as AUTOMATIC1111
 * writes them into PNG infotext: SDXL_HASH_FILE hashes the whole file (its first 10 digits are
 * "Model hash" / "VAE hash", model sites' AutoV2); SDXL_HASH_SAFETENSORS_DATA the data after a
 * safetensors header (the first 12 are the "Lora hashes" entry). Cached in
 * $SDXL_CACHE_DIR/hashes.json (default $XDG_CACHE_HOME/sdxl, ~/.cache/sdxl) by path, size and
 * modification time: a second call does not read the file again. SDXL_HASH_A1111_SHORT: AUTOMATIC1111's
 * old 8-digit model hash (the SHA-256 of the 64 KiB at 1 MiB; not cached, it reads 64 KiB), with
 * which its ControlNet extension names models "name [hash]". */
typedef enum sdxl_hash_kind { SDXL_HASH_FILE = 0, SDXL_HASH_SAFETENSORS_DATA = 1, SDXL_HASH_A1111_SHORT = 2 } sdxl_hash_kind;
sdxl_status sdxl_file_hash(const char* path, sdxl_hash_kind kind, char** hex);

/* The textual-inversion embeddings of folder `dir` (NAME.safetensors), from their headers, as a
 * JSON array (free with sdxl_free_string): [{"name", "file", "vectors", "clip_l_width",
 * "clip_g_width", "error"}], "error" null for a usable SDXL embedding, else why not. */
sdxl_status sdxl_list_embeddings(const char* dir, char** json);

/* ---- samplers ----------------------------------------------------------------------------- */
/* The sampler table: each sampler's name here, the diffusers scheduler it runs as, and
 * AUTOMATIC1111's name for it. Entries live as long as the library. */
typedef struct sdxl_sampler_info {
  const char* name;             /* "dpmpp_2m": what sdxl_generate_params.sampler takes */
  const char* diffusers_class;  /* "DPMSolverMultistepScheduler" */
  const char* display_name;     /* "DPM++ 2M": AUTOMATIC1111's name (also accepted as a name) */
  const char* aliases;          /* AUTOMATIC1111's other names, comma-separated ("k_dpmpp_2m") */
  int supports_karras;          /* takes the "Karras" schedule */
} sdxl_sampler_info;

int sdxl_sampler_count(void);
const sdxl_sampler_info* sdxl_sampler_at(int index); /* NULL out of range */
/* Resolves any sampler name (ours, AUTOMATIC1111's display name or alias, any case, or the legacy
 * "<name> Karras") with a schedule ("", "automatic" or "karras"; or karras = 1). */
sdxl_status sdxl_resolve_sampler(const char* name, const char* schedule, int karras, const sdxl_sampler_info** sampler,
                                 int* use_karras);

/* ---- generation ---------------------------------------------------------------------------- */
/* An engine holds a model set: the base (text encoders, UNet, VAE) and an optional refiner. */
typedef struct sdxl_engine sdxl_engine;

typedef enum sdxl_memory_policy {
  SDXL_MEMORY_KEEP_LOADED = 0, /* every model stays loaded across calls (a server) */
  SDXL_MEMORY_ONE_SHOT = 1     /* no two models in memory at once: each is loaded when its phase
                                  comes and freed after (a one-shot run: least memory, reloads
                                  every call); load errors of the UNet then show at the first
                                  generation */
} sdxl_memory_policy;

/* A LoRA to merge into a model's UNet and text encoders: any format sdxl reads (kohya / A1111,
 * PEFT / diffusers, LyCORIS LoHa and LoKr, full diff, DoRA), as .safetensors. */
typedef struct sdxl_lora {
  const char* path;
  double weight; /* the multiplier: diffusers' lora_scale, A1111's <lora:NAME:WEIGHT> */
} sdxl_lora;

typedef struct sdxl_engine_params {
  const char* model_dir;   /* a diffusers SDXL pipeline folder or a single-file checkpoint (a refiner alone:
                              img2img only) */
  const char* refiner_dir; /* NULL or "": none; else an SDXL refiner folder */
  const char* variant;     /* NULL or "" for the plain weights, "fp16" for *.fp16.safetensors */
  const char* precision;   /* "fp32" (default) or "bf16": bf16 matmuls and convolutions, f32 accumulation */
  sdxl_memory_policy memory_policy;
  const char* taesd_dir;   /* NULL or "": none; else a tiny autoencoder (diffusers AutoencoderTiny folder, as
                              madebyollin/taesdxl) that decodes the final images and makes the previews */
  int taesd_encode;        /* 1: it also encodes init images (img2img, inpainting) */
  /* model_dir / refiner_dir may also be single-file checkpoints (.safetensors in the original
     Stability layout); these name the diffusers folders their architecture, tokenizers and
     scheduler come from, as diffusers' from_single_file(..., config=...). */
  const char* config_dir;
  const char* refiner_config_dir;
  const char* vae_path; /* NULL: the models' own VAE; else a diffusers AutoencoderKL folder, or a single
                           .safetensors VAE (original LDM keys, with or without first_stage_model., or
                           diffusers' names; it takes the model's VAE config). A folder whose config says
                           force_upcast: false (sdxl-vae-fp16-fix) runs in bf16 under precision "bf16". */
  const char* lora_dir; /* NULL: none; else where a prompt's <lora:NAME:WEIGHT> tags find NAME.safetensors
                           (in it or a folder below it, never outside) */
  /* The packed-weight cache: NULL or "": none (every load converts and packs the weights); else a
     folder (sdxl_packed_cache_default_dir() is the usual one) where the first load of a checkpoint
     at a precision writes its weights as the kernels want them, and later loads map them instead
     of reading and packing the checkpoint. Entries are checked before use (a damaged, partial or
     stale one is made again) and the folder is kept under packed_cache_max_gb (default 64), least
     recently used entries removed first. */
  const char* packed_cache_dir;
  double packed_cache_max_gb;
} sdxl_engine_params;

/* $SDXL_CACHE_DIR/packed, else $XDG_CACHE_HOME/sdxl/packed, else ~/.cache/sdxl/packed; "" when none
   of those variables is set. */
const char* sdxl_packed_cache_default_dir(void);

void sdxl_engine_params_init(sdxl_engine_params* params);
sdxl_status sdxl_engine_load(const sdxl_engine_params* params, sdxl_engine** engine);
void sdxl_engine_free(sdxl_engine* engine);
/* 1 when the main model is a refiner (requires_aesthetics_score: aesthetic-score time ids). */
int sdxl_engine_is_refiner(const sdxl_engine* engine);
int sdxl_engine_has_refiner(const sdxl_engine* engine);

/* What a progress callback receives. stage: "encoding" (an init image), "denoising",
 * "refining" or "hires" (the hires fix's second pass; steps count from 1 to total_steps),
 * "decoding" (blocks of the VAE decoder). */
typedef struct sdxl_progress {
  const char* stage;
  int step, total_steps;
  /* While denoising or refining, on the steps preview_every asks for (and the last one): the
   * current latents of the first image as an RGB image: decoded by the engine's tiny
   * autoencoder (full size) when it has one, else a linear projection of the latents (1/8 of the
   * output's size). Else NULL. Valid during the call only. */
  const unsigned char* preview;
  int preview_width, preview_height;
} sdxl_progress;

/* Called after each denoising step and between the blocks of long VAE encodes and decodes.
 * Return 0 to go on; SDXL_PROGRESS_FINISH to stop denoising after this step and decode the
 * latents reached (AUTOMATIC1111's interrupt: the call returns SDXL_STATUS_OK with those
 * images; a refiner's steps are skipped; said during an encode or decode, that stage completes
 * and the next step stops); any other value to cancel: the generation stops at once with
 * SDXL_STATUS_CANCELLED. The engine stays usable either way. */
#define SDXL_PROGRESS_FINISH 2
typedef int (*sdxl_progress_callback)(const sdxl_progress* progress, void* user_data);

/* A ControlNet or T2I-Adapter unit (diffusers' ControlNetModel or T2IAdapter for SDXL; AUTOMATIC1111's
 * ControlNet extension's unit). Start from sdxl_controlnet_unit_init(). */
typedef struct sdxl_controlnet_unit {
  const char* model;      /* a diffusers ControlNet or T2I-Adapter folder, or a .safetensors file of its tensors */
  const char* config_dir; /* NULL: the folder's config.json, one beside the file, or the architecture
                             read from the tensors (SDXL's head size); else a folder or config.json */
  const char* name;       /* how the PNG text names it (NULL: the file's name and hash) */
  /* the control image as given, 8-bit gray, RGB or RGBA (RGBA with a partial alpha: the alpha is a
     scribble, as the extension takes it) */
  const unsigned char* image;
  int image_width, image_height, image_channels;
  const char* preprocessor; /* NULL or "none" (the image is the map), "canny" */
  double threshold_a, threshold_b; /* canny's low and high thresholds (default 100, 200) */
  int resolution; /* the preprocessor's working resolution (short side); 0 (default): pixel perfect */
  /* how the map is fitted to the output: "Crop and Resize" (NULL, default), "Just Resize",
     "Resize and Fill" (the extension's names; also 0, 1, 2 as strings and just, crop, fill) */
  const char* resize_mode;
  double scale;      /* controlnet_conditioning_scale (adapter_conditioning_scale) / the extension's weight, default 1 */
  double start, end; /* control_guidance_start / _end, default 0 and 1; a T2I-Adapter's end is its
                        adapter_conditioning_factor (it acts while step i < int(steps * end)) */
  /* the extension's control_mode: NULL or "Balanced", "My prompt is more important",
     "ControlNet is more important" */
  const char* control_mode;
  int a1111_window; /* 1: the extension's step window (start <= i/n <= end); 0: diffusers' */
  /* what the model must be: NULL or "auto" (what the file is), "controlnet", "t2i_adapter" */
  const char* kind;
} sdxl_controlnet_unit;
void sdxl_controlnet_unit_init(sdxl_controlnet_unit* unit);

/* An IP-Adapter (diffusers' load_ip_adapter + set_ip_adapter_scale + ip_adapter_image): an image as
 * a prompt. Start from sdxl_ip_adapter_init(). */
typedef struct sdxl_ip_adapter {
  const char* model;         /* an IP-Adapter .safetensors (h94/IP-Adapter's ip-adapter[-plus]_sdxl*) */
  const char* image_encoder; /* its CLIP image encoder: a transformers folder (config.json +
                                model.safetensors) or one .safetensors in transformers' or open_clip's names */
  const char* name;          /* how the PNG text names it (NULL: the file's name and hash) */
  const unsigned char* image; /* the image prompt, 8-bit gray, RGB or RGBA (alpha dropped) */
  int image_width, image_height, image_channels;
  double scale;      /* set_ip_adapter_scale, default 1 */
  double start, end; /* the steps it acts on (the extension's window), default 0 and 1: all */
} sdxl_ip_adapter;
void sdxl_ip_adapter_init(sdxl_ip_adapter* adapter);

/* AUTOMATIC1111's hires fix (txt2img only): the image is made at width x height, upscaled (its
 * latents, or the decoded image by Lanczos, Nearest or an ESRGAN-family model), then denoised
 * again at the larger size as img2img: `steps` of a schedule, int(steps * denoising_strength) of
 * them run (diffusers' img2img rule), with a fresh generator of the same seed. Start from
 * sdxl_hires_init(). */
typedef struct sdxl_hires {
  double scale;                   /* hr_scale, default 2: the target is int(width * scale) x int(height * scale) */
  int resize_width, resize_height; /* hr_resize_x / hr_resize_y instead of scale (one 0: from the other
                                      side's aspect; both: filled and cropped, as AUTOMATIC1111) */
  const char* upscaler;           /* "Latent" (default), "Latent (antialiased)", "Latent (bicubic)", "Latent
                                     (bicubic antialiased)", "Latent (nearest)", "Latent (nearest-exact)",
                                     "Lanczos", "Nearest", "None" (one Lanczos resize), or the name of
                                     upscaler_model; "": AUTOMATIC1111's unnamed default, Latent, not
                                     written in the PNG text */
  const char* upscaler_model;     /* an ESRGAN-family model file (run with AUTOMATIC1111's BGR order) */
  int steps;                      /* hr_second_pass_steps; 0 (default): the first pass's */
  double denoising_strength;      /* default 0.7, in (0, 1] */
  const char* sampler;            /* NULL: the first pass's; else any name sdxl_resolve_sampler() takes */
  const char* scheduler;          /* with sampler: NULL, "automatic" or "karras" */
  const char* prompt;             /* hr_prompt; NULL: the first pass's */
  const char* negative_prompt;    /* hr_negative_prompt; NULL: the first pass's */
  int has_guidance_scale;         /* 1: guidance_scale (hr_cfg) for the second pass */
  double guidance_scale;
} sdxl_hires;
void sdxl_hires_init(sdxl_hires* hires);

typedef struct sdxl_generate_params {
  const char* const* prompts; /* a batch of prompts, as diffusers' prompt list */
  int prompt_count;
  const char* const* negative_prompts; /* 0 entries: none; 1: for every prompt; or one per prompt */
  int negative_prompt_count;
  const char* prompt_2;          /* NULL: the prompt (text_encoder_2's input) */
  const char* negative_prompt_2; /* NULL: the negative prompt */
  int width, height;             /* default 1024 x 1024; multiples of 8 in [SDXL_MIN_SIDE, SDXL_MAX_SIDE] */
  int steps;                     /* default 30 */
  double guidance_scale;         /* default 5.0; 1.0 disables classifier-free guidance */
  double guidance_rescale;       /* default 0 */
  int clip_skip;                 /* default -1: none */
  const char* sampler;           /* any name sdxl_resolve_sampler() takes; default "euler" */
  const char* scheduler;         /* NULL, "automatic" or "karras" (AUTOMATIC1111's schedule names) */
  int karras;                    /* Karras sigmas (the same as scheduler "karras") */
  uint64_t seed;                 /* torch.Generator("cpu").manual_seed(seed) */
  int images_per_prompt;         /* default 1 */
  /* SDXL micro-conditioning, width x height and top, left; 0 means the default. */
  int original_width, original_height, target_width, target_height, crop_top, crop_left;
  int negative_original_width, negative_original_height, negative_target_width, negative_target_height;
  int negative_crop_top, negative_crop_left;
  /* img2img (SDEdit): an 8-bit image (1 gray, 3 RGB or 4 RGBA channels). The output takes its
     size, or width x height with fit_to_size = 1; a side that is not a multiple of 8 is rounded
     down. The image (and mask) is resized to that size with PIL's Lanczos filter, as diffusers
     does for PIL images. */
  const unsigned char* init_image;
  int init_width, init_height, init_channels;
  int fit_to_size;
  double strength; /* default 0.3, in (0, 1] */
  /* inpainting (with init_image): an 8-bit mask of the same size, white (>= 128 after resizing) = repaint. */
  const unsigned char* mask;
  int mask_width, mask_height, mask_channels;
  /* the ensemble of experts by hand: latents from a base run (NCHW f32) handed to a refiner
     engine, with denoising_start / denoising_end fractions in (0, 1); 0 means unset */
  const float* init_latents;
  int init_latent_count, init_latent_channels, init_latent_height, init_latent_width;
  double denoising_start, denoising_end;
  double aesthetic_score, negative_aesthetic_score; /* refiner: defaults 6.0 and 2.5 */
  /* With an engine that has a refiner: "ensemble" (default: the base denoises the first
     high_noise_frac of the schedule, the refiner the rest), "img2img" (the base finishes, the
     refiner runs img2img on its latents at refiner_strength) or "none". */
  const char* refiner_mode;
  double high_noise_frac;  /* default 0.8 */
  double refiner_strength; /* default 0.3 */
  int has_refiner_seed;    /* 0: the refiner's generator takes `seed` */
  uint64_t refiner_seed;
  int decode; /* default 1; 0 returns latents only */
  int vae_tiling; /* 1: decode in row bands with whole-image normalisation: the same image (to
                     float rounding) with a quarter of the decoder's memory, ~1.4x its time */
  sdxl_progress_callback progress;
  void* progress_user_data;
  int preview_every; /* 0: no previews; N: a preview every N steps (and at the last) */
  const char* prompt_syntax; /* NULL or "plain" (diffusers), or "a1111" (see sdxl_tokenize_params) */
  const char* timestep_spacing; /* NULL: the model's; "leading", "linspace" or "trailing" (SDXL-Turbo and
                                   -Lightning use trailing). LCM ignores it, as diffusers does. */
  const char* embedding_dir; /* a1111: textual-inversion embeddings, used where their name is written */
  /* LoRAs for this call, in order, merged into the base (loras; the prompt's <lora:...> tags add
     to them) and the refiner (refiner_loras). An engine keeps the last set merged: a call with
     the same set costs nothing; another set re-packs, in memory, only the layers the old or the
     new set touches (a set that changes a tensor no layer holds, such as a norm, binds the UNet
     and text encoders again from the checkpoint). */
  const sdxl_lora* loras;
  int lora_count;
  const sdxl_lora* refiner_loras;
  int refiner_lora_count;
  double eta; /* DDIM's eta (diffusers' DDIMScheduler.step): 0 (default) is deterministic DDIM, 1 is
                 DDPM-like; the noise comes from the call's generator. Other samplers take none: a
                 non-zero eta with them is refused. */
  double ancestral_eta; /* default 1: Euler a's share of fresh noise per step (k-diffusion's and
                           AUTOMATIC1111's eta for ancestral samplers; 1 is diffusers'
                           EulerAncestralDiscreteScheduler, 0 makes it deterministic). Other
                           samplers take none: another value with them is refused. */
  int shared_generator; /* 0 (default): image i of the call draws from its own generator seeded seed + i
                           (diffusers' generator=[manual_seed(seed + i) ...]), so it is the single
                           image of seed + i, as AUTOMATIC1111 numbers them; 1: one generator for
                           the whole batch (diffusers' generator=manual_seed(seed)), image i then
                           depends on the batch. The refiner's seed follows the same rule. */
  /* AUTOMATIC1111's inpainting, with a mask (its image operations to the byte, Pillow's and
     OpenCV's; the repainting itself stays diffusers'): mask_invert repaints the black area;
     mask_blur_x/_y blur the mask (pixels, OpenCV's Gaussian); inpaint_only_masked works on the
     box around the mask (grown by inpaint_padding pixels, then to the aspect of width x height)
     at width x height and pastes the result back into the whole image; inpaint_fill is "original"
     (NULL, the default: the image as it is), "fill" (the masked area pre-filled from its
     surroundings), "latent_noise" or "latent_nothing" (it starts from noise / zeros);
     initial_noise_multiplier scales the starting noise (0 means 1); inpaint_overlay puts the
     original back over the result outside the blurred mask, as AUTOMATIC1111 always does (the
     images then have the init image's size with only-masked). */
  int mask_invert;
  int mask_blur_x, mask_blur_y;
  int inpaint_only_masked, inpaint_padding;
  const char* inpaint_fill;
  double initial_noise_multiplier;
  int inpaint_overlay;
  /* AUTOMATIC1111's variation seed: with subseed_strength in (0, 1], every image takes `seed` and
     image i's starting noise is moved toward the noise of subseed + i (its spherical
     interpolation); 0 (default): none. */
  uint64_t subseed;
  double subseed_strength;
  /* AUTOMATIC1111's "resize seed from": the starting noise (and the variation noise) drawn for this
     size, then placed at the centre of the noise of the size made (cropped where it is larger); 0 x 0
     (default): none. */
  int seed_resize_from_width, seed_resize_from_height;
  /* ControlNets steering the base model (not a refiner), their residuals summed; guess_mode:
     diffusers' (the nets see only the prompt under CFG, their residuals ramped 0.1 -> 1). */
  const sdxl_controlnet_unit* controlnets;
  int controlnet_count;
  int guess_mode;
  const sdxl_ip_adapter* ip_adapter; /* NULL: none; steers the base model only */
  const sdxl_hires* hires;           /* NULL: none (see sdxl_hires) */
} sdxl_generate_params;

typedef struct sdxl_images {
  int count, width, height, channels; /* channels = 3 (RGB) */
  unsigned char* pixels;              /* count x height x width x channels, diffusers' order */
  int latent_channels, latent_height, latent_width;
  float* latents;                     /* count x channels x height x width: before the VAE, NCHW */
  int lora_count;                     /* the base's LoRAs the call ran with (the params' and the tags') */
  sdxl_lora* loras;                   /* paths owned by the images */
} sdxl_images;

void sdxl_generate_params_init(sdxl_generate_params* params);
sdxl_status sdxl_engine_generate(sdxl_engine* engine, const sdxl_generate_params* params, sdxl_images** images);
void sdxl_images_free(sdxl_images* images);

/* ---- conversion ---------------------------------------------------------------------------- */
/* A single-file checkpoint written as a diffusers folder, or a folder as a single file (the original
 * Stability layout), optionally in another dtype and with LoRAs merged in. */
typedef struct sdxl_convert_params {
  const char* input;      /* a single .safetensors checkpoint or a diffusers folder */
  const char* output;     /* must not exist: a folder for a single-file input, else a .safetensors file */
  const char* config_dir; /* a single-file input's architecture (as sdxl_engine_params.config_dir) */
  const char* variant;    /* a folder input's weights variant */
  const char* dtype;      /* NULL or "keep" (each tensor as stored), "fp32", "fp16", "bf16" */
  const sdxl_lora* loras; /* merged into the UNet and text encoders */
  int lora_count;
} sdxl_convert_params;
void sdxl_convert_params_init(sdxl_convert_params* params);
sdxl_status sdxl_convert(const sdxl_convert_params* params);

/* Everything sdxl_engine_generate checks before it starts, without running: parameter values,
 * the request limits, the memory estimate, LoRA files and the prompt's <lora:...> names. A server
 * calls it before queueing a request. Safe to call while the engine generates. */
sdxl_status sdxl_engine_check(const sdxl_engine* engine, const sdxl_generate_params* params);
/* The memory `params` would need beyond what the engine holds already, and the memory the
 * machine has available now (-1 where unknown), GiB: what sdxl_engine_generate checks first. */
sdxl_status sdxl_engine_estimate_memory(const sdxl_engine* engine, const sdxl_generate_params* params,
                                        double* needed_gib, double* available_gib);
/* What the engine accepts, as JSON another process can check requests against
 * (sdxl_check_capacity): its refiner, VAE scale, weights, and the memory its machine has
 * available now. A queue worker publishes it for front ends that load no model. Free with
 * sdxl_free_string. */
sdxl_status sdxl_engine_capacity(const sdxl_engine* engine, char** json);
/* The checks of sdxl_engine_check that need neither the models nor the engine's LoRA folder
 * (parameter values, refiner settings, the request limits, the memory estimate), against a
 * capacity from sdxl_engine_capacity, possibly taken on another machine. */
sdxl_status sdxl_check_capacity(const char* capacity_json, const sdxl_generate_params* params);
/* Gives back the activation memory the largest request so far left reserved (arenas, scratch),
 * so that one large request does not pin that memory in a long-lived process. BUSY while the
 * engine generates. */
sdxl_status sdxl_engine_release_memory(sdxl_engine* engine);

/* An 8-bit image read from a PNG or JPEG file. */
typedef struct sdxl_image {
  int width, height, channels;
  unsigned char* pixels;
} sdxl_image;
sdxl_status sdxl_read_image(const char* path, sdxl_image** image);
void sdxl_image_free(sdxl_image* image);

/* A preprocessor's control map of `image` (what the extension's /controlnet/detect answers):
 * "none" returns the image as RGB, "canny" its edges (thresholds low, high) at `resolution`
 * (the short side; 0: the image's own). Free with sdxl_image_free. */
sdxl_status sdxl_control_preprocess(const sdxl_image* image, const char* preprocessor, double threshold_a,
                                    double threshold_b, int resolution, sdxl_image** map);

/* ---- Upscalers ------------------------------------------------------------------------------
 * ESRGAN-family models (RRDBNet): Real-ESRGAN's releases (.pth {"params_ema": ...} or
 * .safetensors, x4 / x2 / x1) and the old ESRGAN layout (4x-UltraSharp and kin), the architecture
 * read from the tensors. A loaded upscaler may be used by one thread at a time. */
typedef struct sdxl_upscaler sdxl_upscaler;
/* `precision`: "fp32" (NULL) or "bf16" (the convolutions in bf16: about twice as fast). */
sdxl_status sdxl_upscaler_load(const char* path, const char* precision, sdxl_upscaler** upscaler);
int sdxl_upscaler_scale(const sdxl_upscaler* upscaler); /* its native factor: 4, 2 or 1 */
void sdxl_upscaler_free(sdxl_upscaler* upscaler);

typedef struct sdxl_upscale_params {
  /* 0: one pass, the image times the model's scale. Otherwise AUTOMATIC1111's Upscaler.upscale:
   * the target is int(side * scale) // 8 * 8, reached by up to three passes and a Lanczos resize. */
  double scale;
  int tile;                  /* -1 (default): the whole image when it fits in memory, else 192; 0: whole; N: N-pixel tiles */
  int tile_overlap;          /* pixels shared by neighbouring tiles, averaged (default 8) */
  const char* channel_order; /* "rgb" (default: what the models were trained on) or "bgr" (AUTOMATIC1111's) */
} sdxl_upscale_params;
void sdxl_upscale_params_init(sdxl_upscale_params* params);
/* The upscaled RGB image (free with sdxl_image_free). */
sdxl_status sdxl_upscale(const sdxl_upscaler* upscaler, const sdxl_image* image, const sdxl_upscale_params* params,
                         sdxl_image** upscaled);

/* Writes image `index` as a PNG with an AUTOMATIC1111-style "parameters" text chunk (may be
 * NULL), via a temporary file: a failure leaves no partial file. */
sdxl_status sdxl_write_png(const char* path, const sdxl_images* images, int index, const char* parameters);
/* The same PNG in memory (free with sdxl_free_bytes): what a server sends. */
sdxl_status sdxl_encode_png(const sdxl_images* images, int index, const char* parameters, unsigned char** bytes,
                            size_t* size);
/* Image `index` as `format` "png", "jpeg" (or "jpg") or "webp", with the parameters where
 * AUTOMATIC1111 puts them (PNG: the "parameters" chunk; JPEG and WebP: EXIF UserComment, as its API
 * writes samples_format jpg/webp). `quality` 1-100 for JPEG and lossy WebP (0: AUTOMATIC1111's
 * jpeg_quality, 80); `lossless` for WebP. Free with sdxl_free_bytes. */
sdxl_status sdxl_encode_image_as(const sdxl_images* images, int index, const char* format, int quality, int lossless,
                                 const char* parameters, unsigned char** bytes, size_t* size);
void sdxl_free_bytes(unsigned char* bytes);
/* Raw 8-bit pixels (a preview) as a PNG in memory. */
sdxl_status sdxl_encode_image_png(const unsigned char* pixels, int width, int height, int channels, unsigned char** bytes,
                                  size_t* size);
/* The same with text chunks (`count` key/value pairs, e.g. "parameters", "postprocessing"). */
sdxl_status sdxl_encode_image_png_text(const unsigned char* pixels, int width, int height, int channels,
                                       const char* const* keys, const char* const* values, int count, unsigned char** bytes,
                                       size_t* size);
/* Pillow's Image.resize to width x height with `filter` "lanczos" or "nearest" (free with
 * sdxl_image_free): AUTOMATIC1111's Lanczos and Nearest upscalers. */
sdxl_status sdxl_resize_image(const sdxl_image* image, int width, int height, const char* filter, sdxl_image** resized);
/* A PNG, JPEG or WebP image from bytes in memory (an HTTP upload), as sdxl_read_image. */
sdxl_status sdxl_decode_image(const unsigned char* bytes, size_t size, sdxl_image** image);
/* The same, refusing (SDXL_STATUS_INVALID_ARGUMENT) an image of more than `max_pixels` pixels
 * from its header, before any pixel is decoded (an upload that would decode to gigabytes). */
sdxl_status sdxl_decode_image_bounded(const unsigned char* bytes, size_t size, long long max_pixels, sdxl_image** image);
/* A PNG's, JPEG's or WebP's width and height from its header, without decoding a pixel. */
sdxl_status sdxl_image_size(const unsigned char* bytes, size_t size, int* width, int* height);
/* A PNG's "parameters" text ("" when it has none; free with sdxl_free_string). */
sdxl_status sdxl_png_parameters(const unsigned char* bytes, size_t size, char** parameters);
/* The same from a PNG, a JPEG or a WebP (EXIF UserComment, as AUTOMATIC1111's png-info reads it). */
sdxl_status sdxl_image_parameters(const unsigned char* bytes, size_t size, char** parameters);
/* AUTOMATIC1111's "parameters" text for image `index` of `images` (from sdxl_engine_generate on
 * `engine`): what that call ran, as the engine took it (the sampler by AUTOMATIC1111's name, the
 * size made, the LoRAs merged): the prompt as written (with its <lora:...> tags), the negative
 * prompt, then Steps, Sampler, CFG scale, Seed, Size, Model hash, Model, VAE hash, VAE, Denoising
 * strength, ..., Lora hashes, Version, in the webui's order and quoting (free with
 * sdxl_free_string). `params` is checked for NULL only: the text says what ran. */
sdxl_status sdxl_engine_infotext(const sdxl_engine* engine, const sdxl_generate_params* params, const sdxl_images* images,
                                 int index, char** text);
/* Writes an 8-bit image (1, 3 or 4 channels, e.g. a progress preview) as a PNG, via a temporary file. */
sdxl_status sdxl_write_image_png(const char* path, const unsigned char* pixels, int width, int height, int channels);
/* Writes all latents to a safetensors file as one f32 tensor named "latents". */
sdxl_status sdxl_write_latents(const char* path, const sdxl_images* images);

#ifdef __cplusplus
}
#endif

#endif /* SDXL_SDXL_H */

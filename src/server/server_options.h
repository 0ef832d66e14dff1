// What `sdxl serve` is told on its command line.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace sdxl::server {

struct ServerOptions {
  std::string model;       // the checkpoint loaded at start (folder or single file); optional with a queue
  std::string config;      // a single-file model's architecture folder
  std::string refiner;     // optional
  std::string models_dir;  // further checkpoints a request may select
  size_t models_in_memory = 2;  // checkpoints kept loaded at most (fewer where memory is short)
  std::string lora_dir, embedding_dir, vae, taesd;
  std::string controlnet_dir;  // ControlNets requests may name (AUTOMATIC1111's ControlNet extension's models)
  std::string image_encoder_dir;  // CLIP image encoders IP-Adapters may name (clip_g, clip_h: folders or .safetensors)
  std::string upscaler_dir;  // ESRGAN-family models the hires fix and the extras API may name (by file name without extension)
  std::string styles_file;  // AUTOMATIC1111's styles.csv: the styles requests may name
  std::string precision = "fp32";
  std::string packed_cache_dir;  // --cache-dir ("": the default folder, unless packed_cache_off)
  bool packed_cache_off = false;  // --no-cache
  double packed_cache_max_gb = 64;
  std::string host = "127.0.0.1";
  int port = 7860;  // 0: any free port (printed)
  std::vector<std::pair<std::string, std::string>> api_auth;  // --api-auth user:pass[,user:pass]
  std::string api_key;                                        // --api-key: OpenAI-style Bearer
  std::string cors_origin;                                    // empty: no CORS headers
  std::string public_url;   // --public-url: the scheme://host[:port][/prefix] links to results start with (behind a proxy)
  std::string link_secret;  // SDXL_LINK_SECRET: the key result links are signed with (empty: random per process)
  std::vector<std::string> allowed_hosts;                     // Host names besides this server's own ("*": any)
  size_t max_connections = 256;                               // open connections at most; more get 503
  size_t queue_size = 16;                                     // queued jobs at most (the running one aside)
  size_t max_body_bytes = 64u << 20;
  size_t kept_results = 64;  // finished jobs kept for their results, oldest dropped first
  std::string queue_url;     // redis://...: hand jobs to `sdxl worker`s instead of generating
  int result_ttl_s = 3600;   // with a queue: how long Redis keeps a finished job's result
  int queued_ttl_s = 3600;   // with a queue: how long a job may wait for a worker before it fails
  bool metrics_public = false;  // --metrics-public: /metrics without credentials
  double drain_timeout_s = 60;  // SIGTERM: how long running and queued jobs may take to finish
  int no_worker_timeout_s = 30;  // with a queue: a synchronous call whose job no live worker can take ends (503) after this
};

}  // namespace sdxl::server

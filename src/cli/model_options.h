// What `sdxl serve` and `sdxl worker` share: the model options and the queue's address.
#pragma once

#include <CLI/CLI.hpp>

#include "server/queue/redis_client.h"
#include "server/server_options.h"

namespace sdxl::cli {

// -m (returned: serve makes it optional with --queue), --config, --refiner, --vae, --taesd,
// --lora-dir, --embedding-dir, --precision, and the cache options below.
CLI::Option* add_model_options(CLI::App& cmd, server::ServerOptions& s);

// --cache-dir, --no-cache, --cache-max-gb: the packed-weight cache (sdxl_engine_params).
void add_cache_options(CLI::App& cmd, std::string& dir, bool& off, double& max_gb);

// --log-format, --log-level, --log-prompts: the service's log lines (server/service/service_log.h).
struct LogOptions {
  std::string format = "text", level = "info";
  bool prompts = false;
};
void add_log_options(CLI::App& cmd, LogOptions& o);
// Installs them for this process.
void apply_log_options(const LogOptions& o);

// "HOST:PORT", "[v6]:PORT" or ":PORT" (host 127.0.0.1), or a CLI::ValidationError naming `option`.
std::pair<std::string, int> parse_host_port(const std::string& text, const char* option);

// --queue's redis://... URL, or a CLI::ValidationError saying what is wrong with it.
server::RedisAddress parse_queue_url(const std::string& url);

}  // namespace sdxl::cli

#include "cli/model_options.h"

#include <cstdlib>
#include <utility>

#include "server/service/service_log.h"

namespace sdxl::cli {

CLI::Option* add_model_options(CLI::App& cmd, server::ServerOptions& s) {
  CLI::Option* model = cmd.add_option("-m,--model", s.model, "The checkpoint to load: a diffusers folder or a single .safetensors file");
  cmd.add_option("--config", s.config, "A single-file model's architecture (a diffusers folder)");
  cmd.add_option("--refiner", s.refiner, "An SDXL refiner (AUTOMATIC1111's refiner_checkpoint names it)");
  cmd.add_option("--lora-dir", s.lora_dir, "LoRAs for <lora:NAME:WEIGHT> tags and the LoRA lists")->check(CLI::ExistingDirectory);
  cmd.add_option("--controlnet-dir", s.controlnet_dir,
                 "ControlNets requests may name: .safetensors files and diffusers folders (the ControlNet extension's models)")
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--image-encoder-dir", s.image_encoder_dir,
                 "CLIP image encoders for IP-Adapters: transformers folders or .safetensors files; the ControlNet\n"
                 "extension's ip-adapter_clip_g / _clip_sdxl units use the one named clip_g (ViT-bigG), _clip_h and\n"
                 "_clip_sdxl_plus_vith the one named clip_h (ViT-H)")
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--upscaler-dir", s.upscaler_dir,
                 "ESRGAN-family upscalers (RRDBNet .pth / .safetensors: Real-ESRGAN, 4x-UltraSharp, ...) for the hires\n"
                 "fix's hr_upscaler and the extras API, named by their file name without extension")
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--embedding-dir", s.embedding_dir, "Textual-inversion embeddings (AUTOMATIC1111 prompt syntax)")
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--vae", s.vae, "A VAE instead of the model's (folder or single file)");
  cmd.add_option("--taesd", s.taesd, "A tiny autoencoder for previews (and the final decode)");
  cmd.add_option("--precision", s.precision, "fp32, or bf16 (about twice as fast)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  add_cache_options(cmd, s.packed_cache_dir, s.packed_cache_off, s.packed_cache_max_gb);
  return model;
}

void add_cache_options(CLI::App& cmd, std::string& dir, bool& off, double& max_gb) {
  CLI::Option* folder = cmd.add_option(
      "--cache-dir", dir,
      "Where weights are kept packed as the kernels want them: the first load of a checkpoint at a\n"
      "precision writes them, later loads map them (seconds instead of reading and converting the\n"
      "checkpoint). Default: $SDXL_CACHE_DIR/packed, $XDG_CACHE_HOME/sdxl/packed or ~/.cache/sdxl/packed");
  cmd.add_flag("--no-cache", off, "No packed-weight cache: every load reads and packs the checkpoint")->excludes(folder);
  cmd.add_option("--cache-max-gb", max_gb, "The packed-weight cache's size bound in GiB (least recently used entries go first)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

server::RedisAddress parse_queue_url(const std::string& url) {
  try {
    return server::parse_redis_url(url);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError("--queue", e.what());
  }
}

void add_log_options(CLI::App& cmd, LogOptions& o) {
  cmd.add_option("--log-format", o.format, "Log lines as text or as one JSON object a line (for a log shipper)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd.add_option("--log-level", o.level, "Least severe lines written: debug (also probes, scrapes, the library's notes), info, warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd.add_flag("--log-prompts", o.prompts, "Write each job's prompts in its log line (off: prompts and images never reach the logs)");
}

void apply_log_options(const LogOptions& o) {
  server::configure_service_log({server::log_format_named(o.format), server::log_level_named(o.level), o.prompts});
}

std::pair<std::string, int> parse_host_port(const std::string& text, const char* option) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) throw CLI::ValidationError(std::string(option) + ": expected HOST:PORT, got '" + text + "'");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = text.substr(colon + 1);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) throw CLI::ValidationError(std::string(option) + ": bad port '" + port + "'");
  return {host.empty() ? "127.0.0.1" : host, static_cast<int>(p)};
}

}  // namespace sdxl::cli

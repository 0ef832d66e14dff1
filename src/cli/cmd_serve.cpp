#include <memory>
#include <string>
#include <tuple>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "sdxl/sdxl.hpp"
#include "server/http_server.h"

namespace sdxl::cli {

namespace {

struct ServeOptions {
  server::ServerOptions server;
  std::string listen = "127.0.0.1:7860";
  std::string api_auth;
  double max_body_mb = 64;
  LogOptions log;
};


}  // namespace

Command add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Serve the model over HTTP, loaded once and kept warm: AUTOMATIC1111's /sdapi/v1 API (Open WebUI,\n"
      "SillyTavern, scripts), the OpenAI Images API (/v1/images/generations), sdxl's jobs API (/v1/jobs:\n"
      "progress, Server-Sent Events, cancel) and a web page at /. One generation runs at a time; the\n"
      "others wait in a queue; with --queue, front ends hand jobs to `sdxl worker`s on any number of\n"
      "machines. Listens on 127.0.0.1 unless told otherwise. See docs/SERVER.md and docs/SCALING.md.");
  auto& s = o->server;
  add_model_options(*cmd, s);
  cmd->add_option("--models-dir", s.models_dir, "Further checkpoints (folders and .safetensors) requests may select")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--styles-file", s.styles_file,
                  "AUTOMATIC1111's styles.csv (name, prompt, negative_prompt): the styles requests may name")
      ->check(CLI::ExistingFile);
  cmd->add_option("--models-in-memory", s.models_in_memory,
                  "Checkpoints kept loaded at most, so clients that alternate between them do not reload on every\n"
                  "request; the least recently used is freed first, and sooner where memory is short")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--queue", s.queue_url,
                  "Generate nothing here: hand jobs to `sdxl worker`s through Redis Streams at\n"
                  "redis://[[USER]:PASSWORD@]HOST:PORT[/STREAM] (or $SDXL_QUEUE; see docs/SCALING.md)")
      ->envname("SDXL_QUEUE");
  cmd->add_option("--no-worker-timeout", s.no_worker_timeout_s,
                  "With --queue: seconds a synchronous call waits for a worker when none is alive for its job,\n"
                  "then its job is cancelled and it is answered 503")
      ->check(CLI::Range(1, 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--result-ttl", s.result_ttl_s, "With --queue: seconds Redis keeps a finished job's result")
      ->check(CLI::Range(10, 7 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--listen", o->listen, "Address to listen on, HOST:PORT (PORT 0: any free port)")->capture_default_str();
  cmd->add_option("--api-auth", o->api_auth, "Require HTTP Basic auth: user:password[,user2:password2]");
  cmd->add_option("--api-key", s.api_key, "Require this Bearer token (OpenAI clients' API key)");
  cmd->add_option("--public-url", s.public_url,
                  "Where clients reach this server (https://images.example.com behind a proxy or TLS): the start of\n"
                  "the result links the OpenAI API answers with (default: http:// and the request's Host)");
  cmd->add_option("--link-secret", s.link_secret,
                  "Key the result links are signed with (HMAC-SHA256; they work for an hour without the API key).\n"
                  "Default: random per process; give front ends behind one balancer the same one")
      ->envname("SDXL_LINK_SECRET");
  cmd->add_option("--cors-origin", s.cors_origin, "Allow browsers on this origin to call the APIs (CORS is off without it)");
  cmd->add_option("--allowed-hosts", s.allowed_hosts,
                  "Host names clients may reach this server by, besides its address and localhost (behind a proxy;\n"
                  "'*': any). Checked when listening on loopback or with this option (DNS rebinding)")
      ->delimiter(',');
  cmd->add_option("--max-connections", s.max_connections, "Open connections at most; more are answered 503 and closed")
      ->check(CLI::Range(4, 100000))
      ->capture_default_str();
  cmd->add_option("--queue-size,--max-queued", s.queue_size,
                  "Jobs that may wait (with --queue: the stream's entries no worker has taken yet); more are answered\n"
                  "503 with Retry-After")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--queued-ttl", s.queued_ttl_s,
                  "With --queue: seconds a job may wait for a worker; then it fails (503, saying so) and a worker that\n"
                  "draws it later drops it")
      ->check(CLI::Range(1, 7 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--max-body-mb", o->max_body_mb, "Largest request body accepted, MiB")->check(CLI::Range(1.0, 4096.0))->capture_default_str();
  cmd->add_flag("--metrics-public", s.metrics_public,
                "Answer GET /metrics without credentials (a Prometheus that cannot send them); /health and /ready\n"
                "never need them");
  cmd->add_option("--drain-timeout", s.drain_timeout_s,
                  "On SIGTERM: seconds the queued and running jobs have to finish (new ones are refused at once, and\n"
                  "/ready says 503); then what is left is cancelled and the server exits 0. A second signal exits at once")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  add_log_options(*cmd, o->log);
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    if (o->server.queue_url.empty() && o->server.model.empty())
      throw CLI::RequiredError("--model (or --queue, to hand the jobs to workers)");
    if (!o->server.queue_url.empty()) parse_queue_url(o->server.queue_url);
    if (cmd->count("--api-key") && o->server.api_key.empty()) throw CLI::ValidationError("--api-key: an empty key would let anyone in");
    if (cmd->count("--api-auth") && o->api_auth.empty()) throw CLI::ValidationError("--api-auth: expected user:password[,user2:password2]");
    std::tie(o->server.host, o->server.port) = parse_host_port(o->listen, "--listen");
    apply_log_options(o->log);
    o->server.max_body_bytes = static_cast<size_t>(o->max_body_mb * 1024 * 1024);
    size_t start = 0;
    while (!o->api_auth.empty() && start <= o->api_auth.size()) {
      const size_t comma = std::min(o->api_auth.find(',', start), o->api_auth.size());
      const std::string pair = o->api_auth.substr(start, comma - start);
      const size_t colon = pair.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == pair.size())
        throw CLI::ValidationError("--api-auth: expected user:password[,user2:password2] with neither empty");
      o->server.api_auth.emplace_back(pair.substr(0, colon), pair.substr(colon + 1));
      start = comma + 1;
    }
    return server::run_server(o->server);
  };
}

}  // namespace sdxl::cli

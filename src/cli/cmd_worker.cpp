#include <memory>
#include <string>
#include <tuple>

#include "cli/commands.h"
#include "cli/model_options.h"
#include "server/queue/queue_worker.h"

namespace sdxl::cli {

Command add_worker_command(CLI::App& app) {
  auto o = std::make_shared<server::WorkerOptions>();
  auto url = std::make_shared<std::string>();
  auto log = std::make_shared<LogOptions>();
  CLI::App* cmd = app.add_subcommand(
      "worker",
      "Generate the jobs `sdxl serve --queue` front ends put on a Redis stream: loads the model once,\n"
      "takes jobs one at a time in a consumer group, stores each result in Redis and acknowledges it\n"
      "only then. A job whose worker died is taken over after --claim-idle seconds. Run any number,\n"
      "on any number of machines; SIGINT/SIGTERM stop a worker after its current job. See docs/SCALING.md.");
  add_model_options(*cmd, o->model)->required();
  cmd->add_option("--queue", *url,
                  "The queue: redis://[[USER]:PASSWORD@]HOST:PORT[/STREAM], as the front ends were given\n"
                  "(or $SDXL_QUEUE: a password there stays out of the process list)")
      ->envname("SDXL_QUEUE")
      ->required();
  cmd->add_option("--name", o->name, "This worker's consumer name (default HOSTNAME:PID; must be unique)");
  cmd->add_option("--claim-idle", o->claim_idle_s,
                  "Seconds a job may go without its worker's heartbeat before another worker takes it over")
      ->check(CLI::Range(0.2, 86400.0))
      ->capture_default_str();
  cmd->add_option("--max-deliveries", o->max_deliveries,
                  "A job handed out this many times without finishing goes to the dead-letter stream")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  auto metrics_listen = std::make_shared<std::string>();
  cmd->add_option("--drain-timeout", o->drain_timeout_s,
                  "On SIGTERM: seconds the running job has to finish; after them it is stopped and handed back to the\n"
                  "queue (another worker takes it over at once). A second signal exits at once")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--metrics-listen", *metrics_listen,
                  "Serve GET /metrics (Prometheus), /health and /ready at HOST:PORT, without credentials: bind an address\n"
                  "only the monitoring reaches");
  add_log_options(*cmd, *log);
  return [cmd, o, url, log, metrics_listen]() -> int {
    if (!cmd->parsed()) return -1;
    apply_log_options(*log);
    if (!metrics_listen->empty()) std::tie(o->metrics_host, o->metrics_port) = parse_host_port(*metrics_listen, "--metrics-listen");
    o->address = parse_queue_url(*url);
    return server::run_worker(*o);
  };
}

}  // namespace sdxl::cli

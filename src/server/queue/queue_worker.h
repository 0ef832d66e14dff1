// `sdxl worker`: loads its model once and runs jobs from the Redis Streams queue until SIGINT or
// SIGTERM. Jobs are read in a consumer group and acknowledged only once their result is stored;
// a job left pending by a dead worker is reclaimed (XAUTOCLAIM) after `claim_idle_s`, while a live
// worker's heartbeat keeps its own job from being taken; a job delivered more than
// `max_deliveries` times goes to the dead-letter stream and is reported failed.
#pragma once

#include <string>

#include "server/queue/redis_client.h"
#include "server/server_options.h"

namespace sdxl::server {

struct WorkerOptions {
  ServerOptions model;      // the model and its parts (model, config, refiner, vae, taesd, precision, dirs)
  RedisAddress address;
  std::string name;         // the consumer's name; empty: HOSTNAME:PID
  double claim_idle_s = 60;  // a pending job idle this long is taken over
  int max_deliveries = 3;
  double drain_timeout_s = 60;  // SIGTERM: the running job may finish within this, else it is handed back
  std::string metrics_host;     // --metrics-listen: where GET /metrics, /health and /ready answer (empty: nowhere)
  int metrics_port = -1;
};

// Returns the process exit code. Prints "sdxl: worker NAME ready" once the model is loaded (and
// "sdxl: worker metrics on http://HOST:PORT" first with a metrics address). SIGTERM/SIGINT: no new
// job is taken; the running one finishes within drain_timeout_s or is handed back to the queue
// (queued again, never acknowledged: another worker takes it over at once); then exit 0. A second
// signal exits at once (the job stays pending and is taken over after the claim time).
int run_worker(const WorkerOptions& options);

}  // namespace sdxl::server

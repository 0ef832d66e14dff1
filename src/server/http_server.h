// `sdxl serve`: loads the model, starts the worker and serves the APIs until SIGINT/SIGTERM.
#pragma once

#include "server/server_options.h"

namespace sdxl::server {

// Returns the process exit code. Prints "sdxl: listening on http://HOST:PORT" once ready.
int run_server(const ServerOptions& options);

}  // namespace sdxl::server

// `sdxl serve`: loads the model, starts the worker and serves the APIs until SIGINT/SIGTERM.
#pragma once

#include "server/server_options.h"

namespace sdxl::server {

// Returns the process exit code. Prints "sdxl: listening on http://HOST:PORT" once ready.
int run_server(const ServerOptions& options);

// Constant-time comparison of secrets (no early exit on the first difference).
bool same_secret(const std::string& a, const std::string& b);

}  // namespace sdxl::server

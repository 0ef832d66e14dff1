// Each API family registers its routes on the server.
#pragma once

#include <httplib.h>

#include "server/http_common.h"

namespace sdxl::server {

void add_a1111_routes(httplib::Server& server, const ServerContext& ctx);
void add_openai_routes(httplib::Server& server, const ServerContext& ctx);
void add_jobs_routes(httplib::Server& server, const ServerContext& ctx);
void add_web_page(httplib::Server& server, const ServerContext& ctx);

}  // namespace sdxl::server

// What every route shares: the server's parts, JSON replies, errors as JSON with the right
// status, and the wait of a synchronous call for its job (cancelled when the client goes away).
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "server/job_queue.h"
#include "server/model_catalog.h"
#include "server/request_fields.h"
#include "server/server_options.h"

namespace sdxl::server {

struct ServerContext {
  const ServerOptions& options;
  ModelCatalog& catalog;
  JobBackend& queue;
};

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
// "Unprocessable Entity", ...: the reason phrase of a status.
const char* reason_phrase(int status);
// {"error": reason, "detail": message, "field": field}
void send_error(httplib::Response& res, const RequestError& e);

// Runs `body`, answering RequestError (4xx) and anything else (500) through `send` (an API
// family's error shape): a request can never take the server down.
using ErrorSender = void (*)(httplib::Response&, const RequestError&);
template <typename Body>
httplib::Server::Handler guarded(Body body, ErrorSender send = send_error) {
  return [body, send](const httplib::Request& req, httplib::Response& res) {
    try {
      body(req, res);
    } catch (const RequestError& e) {
      send(res, e);
    } catch (const std::exception& e) {
      send(res, RequestError(500, "", e.what()));
    }
  };
}

// The catalog's names for the request parsers (server/request_parsers.h).
struct NameLookup;
NameLookup lookup_of(const ServerContext& ctx);

// Waits for job `id` to finish; cancels it and throws when the client disconnects first.
JobView wait_for(const ServerContext& ctx, const std::string& id, const httplib::Request& req);

// A finished job's failure as the error to answer.
RequestError job_error(const JobView& job);

}  // namespace sdxl::server

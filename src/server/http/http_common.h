// What every route shares: the server's parts, JSON replies, errors as JSON with the right
// status, and the answer of a synchronous call once its job ends (cancelled when the client
// goes away first).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "server/http/http_message.h"
#include "server/jobs/job_queue.h"
#include "server/jobs/model_catalog.h"
#include "server/http/request_fields.h"
#include "server/http/signed_links.h"
#include "server/server_options.h"

namespace sdxl::server {

struct ServerContext {
  const ServerOptions& options;
  ModelCatalog& catalog;
  JobBackend& queue;
  const LinkSigner& links;  // signs result links that work without the API key
};

void send_json(http::Response& res, int status, const nlohmann::json& body);
// "Unprocessable Entity", ...: the reason phrase of a status.
const char* reason_phrase(int status);
// {"error": reason, "detail": message, "field": field}
void send_error(http::Response& res, const RequestError& e);

// Runs `body`, answering RequestError (4xx) and anything else (500) through `send` (an API
// family's error shape), a library parameter named as `field_of` says (the family's own
// field names): a request can never take the server down.
using ErrorSender = void (*)(http::Response&, const RequestError&);
using FieldNamer = std::string (*)(const std::string& parameter);
template <typename Body>
std::function<void(const http::Request&, http::Response&)> guarded(Body body, ErrorSender send = send_error,
                                                                    FieldNamer field_of = nullptr) {
  return [body, send, field_of](const http::Request& req, http::Response& res) {
    try {
      body(req, res);
    } catch (const RequestError& e) {
      send(res, e.in_terms_of(field_of));
    } catch (const std::exception& e) {
      send(res, RequestError(500, "", e.what()));
    }
  };
}

// The catalog's names for the request parsers (server/request_parsers.h).
struct NameLookup;
NameLookup lookup_of(const ServerContext& ctx);

// Answers `res` once job `id` has finished: `then` makes the answer from the finished job (on a
// handler thread; a RequestError it throws is answered through `send`). No thread waits
// meanwhile; the job is cancelled when the client goes away first.
using JobAnswer = std::function<void(const JobView& job, http::Response& res)>;
void answer_when_done(const ServerContext& ctx, const std::string& id, http::Response& res, JobAnswer then,
                      ErrorSender send = send_error);

// A finished job's failure as the error to answer.
RequestError job_error(const JobView& job);

}  // namespace sdxl::server

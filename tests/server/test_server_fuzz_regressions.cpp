// The server's request parsers replay their fuzz inputs (see fuzz_replay.h).
#include <gtest/gtest.h>

#include "fuzz_replay.h"
#include "fuzz_server_targets.h"

namespace sdxl {
namespace {

TEST(FuzzRegressions, ServerRequest) { replay("server_request", fuzz::server_request_bytes); }

}  // namespace
}  // namespace sdxl

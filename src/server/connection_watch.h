// Whether the client of a request has gone away while its synchronous call waits (cpp-httplib
// gives handlers no socket): the kernel's TCP table says so, as the connection (our local port,
// the peer's address and port) enters CLOSE_WAIT once the peer has closed its side.
#pragma once

#include <string>

namespace sdxl::server {

// True when the connection is known to be closed by the peer (or gone); false when open or
// when the table cannot be read.
bool peer_has_closed(int local_port, const std::string& remote_addr, int remote_port);

}  // namespace sdxl::server

#include "server/connection_watch.h"

#include <arpa/inet.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace sdxl::server {
namespace {

// /proc/net/tcp lists "local_address rem_address st" as hex "ADDR:PORT" (IPv4 in host byte
// order) and the state (01 established, 08 close-wait, ...).
enum class Found { Open, Closed, Absent, Unreadable };

Found look_up(const char* table, int local_port, const std::string& remote_addr, int remote_port) {
  std::ifstream in(table);
  if (!in) return Found::Unreadable;
  char local_suffix[16], remote_suffix[16];
  std::snprintf(local_suffix, sizeof local_suffix, ":%04X", local_port);
  std::snprintf(remote_suffix, sizeof remote_suffix, ":%04X", remote_port);
  std::string remote_hex;
  in_addr v4{};
  if (inet_pton(AF_INET, remote_addr.c_str(), &v4) == 1) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08X", v4.s_addr);
    remote_hex = hex;
  }
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (local.size() < 5 || remote.size() < 5) continue;
    if (local.compare(local.size() - 5, 5, local_suffix) != 0 || remote.compare(remote.size() - 5, 5, remote_suffix) != 0)
      continue;
    if (!remote_hex.empty() && remote.compare(0, remote.size() - 5, remote_hex) != 0) continue;
    return state == "01" ? Found::Open : Found::Closed;
  }
  return Found::Absent;
}

}  // namespace

bool peer_has_closed(int local_port, const std::string& remote_addr, int remote_port) {
  if (local_port <= 0 || remote_port <= 0) return false;
  const Found v4 = look_up("/proc/net/tcp", local_port, remote_addr, remote_port);
  if (v4 == Found::Open) return false;
  if (v4 == Found::Closed) return true;
  const Found v6 = look_up("/proc/net/tcp6", local_port, remote_addr, remote_port);
  if (v6 == Found::Open) return false;
  if (v6 == Found::Closed) return true;
  // In neither table: the connection is gone; unreadable tables say nothing.
  return v4 == Found::Absent && v6 == Found::Absent;
}

}  // namespace sdxl::server

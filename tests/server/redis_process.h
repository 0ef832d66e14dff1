// A redis-server of the test's own on a free loopback port, persisting to a folder of its own
// (AOF, fsync at every write: a restart after SIGKILL keeps every acknowledged write).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "server/child_process.h"
#include "server/queue/redis_client.h"

namespace sdxl::test {

inline int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size);
  close(fd);
  return ntohs(a.sin_port);
}

class RedisProcess {
 public:
  explicit RedisProcess(std::filesystem::path dir) : dir_(std::move(dir)), port_(free_loopback_port()) { start(); }

  void start() {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--dir",
                                 dir_.string(), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                                 "--logfile", (dir_ / "redis.log").string()});
    server::RedisConnection probe(address());
    for (int i = 0; i < 200; ++i) {
      try {
        probe.command({"PING"});
        return;
      } catch (const server::RedisError&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
      }
    }
  }
  // SIGKILL: no shutdown save; only what the AOF holds survives.
  void kill_hard() { process_->stop(SIGKILL); }
  server::RedisAddress address() const {
    server::RedisAddress a;
    a.port = port_;
    return a;
  }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

 private:
  std::filesystem::path dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sdxl::test

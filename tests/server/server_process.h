// Starts `sdxl serve` as a child process on a free loopback port (--listen 127.0.0.1:0), reads
// the port it prints, and stops it (SIGTERM) when the test is done.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>
#include <vector>

#include "server/child_process.h"

namespace sdxl::test {

class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    std::vector<std::string> all = {SDXL_CLI_PATH, "serve", "--listen", "127.0.0.1:0"};
    all.insert(all.end(), args.begin(), args.end());
    process_ = std::make_unique<ChildProcess>(all);
    const std::string line = process_->wait_for_line([](const std::string& l) { return l.find("listening on") != std::string::npos; });
    if (!line.empty()) port_ = std::stoi(line.substr(line.rfind(':') + 1));
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  bool alive() const { return process_->alive(); }
  pid_t pid() const { return process_->pid(); }
  httplib::Client client(int timeout_seconds = 120) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(timeout_seconds, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }

 private:
  std::unique_ptr<ChildProcess> process_;
  int port_ = -1;
};

}  // namespace sdxl::test

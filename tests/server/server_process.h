// Starts `sdxl serve` as a child process on a free loopback port (--listen 127.0.0.1:0), reads
// the port it prints, and stops it (SIGTERM) when the test is done.
#pragma once

#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace sdxl::test {

class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<std::string> all = {SDXL_CLI_PATH, "serve", "--listen", "127.0.0.1:0"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[256];
    while (f && std::fgets(line, sizeof line, f)) {
      const std::string text = line;
      const size_t colon = text.rfind(':');
      if (text.find("listening on") != std::string::npos && colon != std::string::npos) {
        port_ = std::stoi(text.substr(colon + 1));
        break;
      }
    }
    stdout_ = f;
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (stdout_) std::fclose(stdout_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  httplib::Client client(int timeout_seconds = 120) const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(timeout_seconds, 0);
    c.set_connection_timeout(5, 0);
    return c;
  }

 private:
  pid_t pid_ = -1;
  int port_ = -1;
  FILE* stdout_ = nullptr;
};

}  // namespace sdxl::test

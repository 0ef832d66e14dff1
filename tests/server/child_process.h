// A child process for tests: started with its stdout piped to the test, which reads lines from
// it until it says it is ready; stopped with SIGTERM (or killed at will) and always reaped.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace sdxl::test {

class ChildProcess {
 public:
  ChildProcess() = default;
  // Runs argv[0] with argv; stderr goes to `stderr_path` (empty: the test's own stderr).
  explicit ChildProcess(std::vector<std::string> argv, const std::string& stderr_path = "") {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test that dies (a crash, a closed pipe) takes its children along
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      if (!stderr_path.empty()) {
        if (FILE* err = std::fopen(stderr_path.c_str(), "a")) dup2(fileno(err), STDERR_FILENO);
      }
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = fdopen(out[0], "r");
  }
  ~ChildProcess() { stop(SIGTERM); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Reads stdout lines until one satisfies `ready` (returned), or the output ends ("").
  std::string wait_for_line(const std::function<bool(const std::string&)>& ready) {
    char line[512];
    while (stdout_ && std::fgets(line, sizeof line, stdout_))
      if (ready(line)) return line;
    return "";
  }
  // Sends `signal` and reaps the process.
  void stop(int signal) {
    if (pid_ > 0) {
      kill(pid_, signal);
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (stdout_) std::fclose(stdout_);
    stdout_ = nullptr;
  }
  // Waits up to `seconds` for the process to exit on its own; its wait status, or -1 when it
  // is still running then (it is then left running).
  int wait_exit(double seconds) {
    for (int waited_ms = 0; pid_ > 0 && waited_ms <= seconds * 1000; waited_ms += 20) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      usleep(20000);
    }
    return -1;
  }
  pid_t pid() const { return pid_; }
  bool alive() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
  FILE* stdout_ = nullptr;
};

}  // namespace sdxl::test

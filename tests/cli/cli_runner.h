// Runs the sdxl binary as a user would, capturing its output and exit code.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

namespace sdxl {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code;  // -1 when killed by a signal
  std::string output;
};

// Runs the sdxl binary with `args` (already shell-quoted), capturing stdout and stderr.
inline RunResult run_sdxl(const std::string& args, bool include_stderr = true) {
  std::string command = std::string("'") + SDXL_CLI_PATH + "' " + args + (include_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

inline std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace sdxl

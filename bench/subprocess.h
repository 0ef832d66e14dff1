// Running a child process and reading what it cost: the benchmark measures each configuration
// in its own process, so that peak RSS is that configuration's alone.
#pragma once

#include <string>
#include <vector>

namespace sdxl::bench {

struct ProcessResult {
  int exit_code = -1;        // the exit status, or 128 + signal
  std::string out;           // its standard output (standard error passes through)
  double seconds = 0;        // wall-clock
  double peak_rss_gib = 0;   // the child's maximum resident set
};

ProcessResult run_process(const std::vector<std::string>& argv);

// The value of `key=` in the last line of `out` that starts with `prefix`; NaN when absent.
double result_field(const std::string& out, const std::string& prefix, const std::string& key);

}  // namespace sdxl::bench

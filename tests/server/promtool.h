// Prometheus's own check of a scrape (`promtool check metrics`, Debian's prometheus package) and
// the value of one series in it, for the tests of /metrics.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "test_support.h"

namespace sdxl::test {

// promtool's complaints about `exposition` ("" when it passes); a failure when promtool is missing.
inline std::string promtool_problems(const std::string& exposition) {
  static int counter = 0;
  const auto file = std::filesystem::temp_directory_path() /
                    ("sdxl-metrics-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".txt");
  std::ofstream(file) << exposition;
  const int rc = std::system(("promtool check metrics < " + file.string() + " > " + file.string() + ".out 2>&1").c_str());
  const std::string said = read_file(file.string() + ".out");
  std::filesystem::remove(file);
  std::filesystem::remove(file.string() + ".out");
  if (rc == -1 || WEXITSTATUS(rc) == 127) return "promtool is not installed (Debian's prometheus package; scripts/setup.sh installs it)";
  return WEXITSTATUS(rc) == 0 ? "" : said.empty() ? "promtool failed" : said;
}

// The value of the sample written exactly as `series` (name and labels), NaN when absent.
inline double metric_sample(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return std::nan("");
}

}  // namespace sdxl::test

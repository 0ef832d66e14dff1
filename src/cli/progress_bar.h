// A progress bar on stderr for long work, drawn only when stderr is a terminal.
#pragma once

#include <chrono>
#include <string>

namespace sdxl::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  void update(int done, int total);  // redraws "label [####    ] 3/30 1.25 it/s ETA 0:21"
  void finish();                     // ends the line
  static bool enabled();             // stderr is a terminal

 private:
  std::string label_;
  std::chrono::steady_clock::time_point start_;
  bool active_ = false;
};

}  // namespace sdxl::cli

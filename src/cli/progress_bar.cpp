#include "cli/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace sdxl::cli {

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), start_(std::chrono::steady_clock::now()) {}

bool ProgressBar::enabled() { return isatty(STDERR_FILENO) == 1; }

void ProgressBar::update(int done, int total) {
  if (!enabled() || total <= 0) return;
  active_ = true;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  const int eta = rate > 0 ? static_cast<int>((total - done) / rate + 0.5) : 0;
  constexpr int kWidth = 30;
  const int filled = done * kWidth / total;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, ' ');
  // Slow steps read better as s/it than as a tiny it/s.
  char speed[32];
  if (rate >= 1.0 || rate == 0.0)
    std::snprintf(speed, sizeof speed, "%.2f it/s", rate);
  else
    std::snprintf(speed, sizeof speed, "%.2f s/it", 1.0 / rate);
  std::fprintf(stderr, "\r%s [%s] %d/%d %s ETA %d:%02d ", label_.c_str(), bar.c_str(), done, total, speed, eta / 60,
               eta % 60);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (active_) std::fputc('\n', stderr);
  active_ = false;
}

}  // namespace sdxl::cli

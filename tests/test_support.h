// Helpers shared by the test suites: seeded random data, closeness checks, temp folders and
// the location of the reference data ($SDXL_REF, default ../shared/sdxl-ref).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>
#include <unistd.h>

namespace sdxl::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Every |got - want| <= atol + rtol * |want|; reports the worst element.
inline ::testing::AssertionResult all_close(const float* got, const float* want, size_t n, double atol, double rtol) {
  size_t worst = 0;
  double worst_excess = -1.0;
  for (size_t i = 0; i < n; ++i) {
    double diff = std::fabs(static_cast<double>(got[i]) - want[i]);
    double allowed = atol + rtol * std::fabs(static_cast<double>(want[i]));
    if (!(diff <= allowed) && (diff - allowed > worst_excess || std::isnan(diff))) {
      worst_excess = std::isnan(diff) ? 1e30 : diff - allowed;
      worst = i;
    }
  }
  if (worst_excess < 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << worst << ": got " << got[worst] << ", want " << want[worst]
                                       << " (atol " << atol << ", rtol " << rtol << ")";
}

inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                            double atol, double rtol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  return all_close(got.data(), want.data(), got.size(), atol, rtol);
}

inline std::filesystem::path reference_dir() {
  const char* env = std::getenv("SDXL_REF");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path(SDXL_DEFAULT_REF_DIR);
}

// CI sets SDXL_REQUIRE_REF=1: there a missing reference folder is a failure, not a skip that
// would read as green.
inline bool reference_required() {
  const char* env = std::getenv("SDXL_REQUIRE_REF");
  return env && std::string(env) == "1";
}

inline bool reference_present() { return std::filesystem::exists(reference_dir() / "cases.json"); }

// Skips the test (saying why) when the reference data is not present, or fails it when the
// reference data is required.
#define SDXL_REQUIRE_REFERENCE()                                                                      \
  do {                                                                                                \
    if (!::sdxl::test::reference_present()) {                                                         \
      if (::sdxl::test::reference_required())                                                         \
        FAIL() << "reference data not found at " << ::sdxl::test::reference_dir()                     \
               << " and SDXL_REQUIRE_REF=1";                                                          \
      GTEST_SKIP() << "reference data not found at " << ::sdxl::test::reference_dir()                 \
                   << " (set SDXL_REF to the sdxl-ref folder)";                                       \
    }                                                                                                 \
  } while (0)

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("sdxl-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace sdxl::test

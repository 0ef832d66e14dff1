// Linked into every test binary: with SDXL_REQUIRE_REF=1 (CI) a missing reference folder fails
// every test of the run, even where a binary's cases are parameterised over the (then empty)
// case list and so would never reach SDXL_REQUIRE_REFERENCE(). And the binary's caches (model
// hashes, packed weights), and those of the commands it runs, go to the build folder, never the
// user's, unless SDXL_CACHE_DIR says otherwise.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "test_support.h"

namespace {

class ReferenceDataEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!::sdxl::test::reference_required()) return;
    if (::sdxl::test::reference_present()) return;
    // Exit, not a failed assertion: GoogleTest would then print every test as skipped, and
    // ctest counts a "[  SKIPPED ]" line as a skip whatever the exit code.
    std::fprintf(stderr, "reference data not found at %s and SDXL_REQUIRE_REF=1\n",
                 ::sdxl::test::reference_dir().string().c_str());
    std::exit(1);
  }
};

#ifdef SDXL_TEST_CACHE_DIR
[[maybe_unused]] const int cache_folder_set = ::setenv("SDXL_CACHE_DIR", SDXL_TEST_CACHE_DIR, /*overwrite=*/0);
#endif

[[maybe_unused]] ::testing::Environment* const registered =
    ::testing::AddGlobalTestEnvironment(new ReferenceDataEnvironment);

}  // namespace

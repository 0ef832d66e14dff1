// Linked into every test binary: with SDXL_REQUIRE_REF=1 (CI) a missing reference folder fails
// every test of the run, even where a binary's cases are parameterised over the (then empty)
// case list and so would never reach SDXL_REQUIRE_REFERENCE().
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

[[maybe_unused]] ::testing::Environment* const registered =
    ::testing::AddGlobalTestEnvironment(new ReferenceDataEnvironment);

}  // namespace

// One `sdxl serve` shared by the tests of a suite: started before its first test (when the
// reference data is there), stopped after its last. A suite derives from SharedServer<Itself>
// and says how to start it in a static server_args().
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/server_process.h"
#include "test_support.h"

namespace sdxl::test {

template <typename Suite>
class SharedServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(reference_dir() / "cases.json")) return;
    server_ = new ServerProcess(Suite::server_args());
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    SDXL_REQUIRE_REFERENCE();
    ASSERT_TRUE(server_ && server_->port() > 0) << "the server did not start";
  }
  static inline ServerProcess* server_ = nullptr;
};

}  // namespace sdxl::test

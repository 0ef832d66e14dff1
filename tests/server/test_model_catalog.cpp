// The server's checkpoints in memory: a request naming one runs on it without changing the
// default; at most --models-in-memory stay loaded, the least recently used freed first; a
// checkpoint that does not load is a clear error and the others keep serving.
#include <gtest/gtest.h>

#include "server/http/request_fields.h"
#include "server/jobs/model_catalog.h"
#include "test_support.h"

namespace sdxl {
namespace {

namespace fs = std::filesystem;

TEST(ModelCatalog, KeepsTheDefaultAndTheRecentlyUsedWithinItsBound) {
  SDXL_REQUIRE_REFERENCE();
  test::TempDir dir;
  const fs::path tiny = test::reference_dir() / "models/tiny-sdxl-base";
  for (const char* name : {"second", "third"}) fs::copy(tiny, dir / name, fs::copy_options::recursive);
  test::write_file(dir / "broken.safetensors", "not a safetensors file");
  server::ServerOptions options;
  options.model = tiny.string();
  options.models_dir = dir.path().string();
  options.models_in_memory = 2;
  server::ModelCatalog catalog(options);
  using Names = std::vector<std::string>;
  EXPECT_EQ(catalog.default_checkpoint(), "tiny-sdxl-base");
  EXPECT_EQ(catalog.loaded(), Names({"tiny-sdxl-base"}));

  catalog.use("second");  // this request's only
  EXPECT_EQ(catalog.current(), "second");
  EXPECT_EQ(catalog.default_checkpoint(), "tiny-sdxl-base");
  EXPECT_EQ(catalog.loaded(), Names({"tiny-sdxl-base", "second"}));
  sdxl_engine* second = catalog.engine();
  ASSERT_NE(second, nullptr);

  catalog.use("");  // the default, still loaded
  EXPECT_EQ(catalog.current(), "tiny-sdxl-base");
  EXPECT_EQ(catalog.loaded(), Names({"second", "tiny-sdxl-base"}));
  catalog.use("second");  // no reload: the same engine
  EXPECT_EQ(catalog.engine(), second);

  catalog.use("third");  // a third: the least recently used (the default) goes
  EXPECT_EQ(catalog.loaded(), Names({"second", "third"}));
  catalog.use("");  // and comes back when asked for
  EXPECT_EQ(catalog.current(), "tiny-sdxl-base");
  EXPECT_EQ(catalog.loaded(), Names({"third", "tiny-sdxl-base"}));

  catalog.set_default("second");
  EXPECT_EQ(catalog.default_checkpoint(), "second");
  catalog.use("");
  EXPECT_EQ(catalog.current(), "second");

  try {
    catalog.use("broken");
    FAIL() << "a broken checkpoint loaded";
  } catch (const server::RequestError& e) {
    EXPECT_EQ(e.status(), 422);
    EXPECT_EQ(e.field(), "sd_model_checkpoint");
    EXPECT_NE(std::string(e.what()).find("does not load"), std::string::npos) << e.what();
  }
  EXPECT_EQ(catalog.default_checkpoint(), "second");
  catalog.use("");
  EXPECT_EQ(catalog.current(), "second");
  EXPECT_NE(catalog.engine(), nullptr);
}

}  // namespace
}  // namespace sdxl

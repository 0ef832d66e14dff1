#include "pipeline/sources/data_dir.h"

#include <dlfcn.h>

#include <cstdlib>

#include "core/error.h"

namespace sdxl::pipeline {

std::filesystem::path data_dir() {
  namespace fs = std::filesystem;
  const char* env = std::getenv("SDXL_DATA_DIR");
  if (env && *env) return env;
  Dl_info info{};
  std::error_code ec;
  if (dladdr(reinterpret_cast<void*>(&data_dir), &info) && info.dli_fname) {
    // <prefix>/lib[/<multiarch>]/libsdxl.so or <prefix>/bin/sdxl -> <prefix>/share/sdxl
    for (fs::path dir = fs::path(info.dli_fname).parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path())
      if (fs::is_directory(dir / "share/sdxl/tokenizer", ec)) return dir / "share/sdxl";
  }
  const fs::path source = SDXL_SOURCE_DATA_DIR;
  SDXL_CHECK(fs::is_directory(source / "tokenizer", ec), Io,
             "[data] sdxl's data files (share/sdxl: tokenizer, configs) are not found; set SDXL_DATA_DIR");
  return source;
}

}  // namespace sdxl::pipeline

// sdxl_build_info(): the version, the commit and the backend's facts, for --version and bug reports.
#include <string>

#include "ops.h"
#include "sdxl/sdxl.h"
#include "sdxl_git_revision.h"

extern "C" const char* sdxl_build_info(void) {
  // Rebuilt on every call (the thread count may have changed) into a per-thread buffer, so the
  // pointer stays valid until this thread's next call.
  thread_local std::string text;
  try {
    text = std::string("sdxl ") + SDXL_VERSION_STRING + "\nrevision: " + SDXL_GIT_REVISION + "\n" +
           sdxl::ops::backend_facts();
  } catch (...) {
    text = std::string("sdxl ") + SDXL_VERSION_STRING + "\n";
  }
  return text.c_str();
}

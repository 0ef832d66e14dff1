// Where sdxl's own data files are (the CLIP tokenizer's vocabulary, SDXL 1.0's configs):
// $SDXL_DATA_DIR when set; else share/sdxl beside the library's (or program's) lib/bin folder,
// as `cmake --install` and the .deb lay them out; else the source tree's data/ (a build tree).
#pragma once

#include <filesystem>

namespace sdxl::pipeline {

std::filesystem::path data_dir();

}  // namespace sdxl::pipeline

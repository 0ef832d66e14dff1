#include "fuzz_targets.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "core/error.h"
#include "io/image_file.h"
#include "io/model_configs.h"
#include "io/pipeline_folder.h"
#include "io/safetensors.h"
#include "io/json_file.h"
#include "pipeline/scheduler_spec.h"
#include "pipeline/prompt_chunks.h"
#include "pipeline/tokenizer_loader.h"
#include "tokenizer/prompt_attention.h"

namespace sdxl::fuzz {
namespace {

namespace fs = std::filesystem;

// The parsers read files, so each input goes through a per-process scratch file in /dev/shm
// (or the temp dir) that is overwritten every run.
fs::path scratch(const char* name) {
  static const fs::path dir = [] {
    fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("sdxl-fuzz-" + std::to_string(getpid()));
    fs::create_directories(d);
    return d;
  }();
  return dir / name;
}

fs::path write_scratch(const char* name, const uint8_t* data, size_t size) {
  fs::path path = scratch(name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

template <typename Body>
int expect_clean(Body body) {
  try {
    body();
  } catch (const Error&) {
    // a clear error is the expected outcome for bad input
  }
  return 0;
}

fs::path g_tokenizer_dir;

}  // namespace

void set_tokenizer_dir(const fs::path& dir) { g_tokenizer_dir = dir; }

int safetensors_bytes(const uint8_t* data, size_t size) {
  const fs::path path = write_scratch("fuzz.safetensors", data, size);
  return expect_clean([&] {
    auto file = io::SafetensorsFile::open(path);
    // Touch every tensor: views must stay inside the mapping.
    volatile uint8_t sink = 0;
    for (const auto& record : file->records()) {
      Tensor t = file->tensor(record);
      if (t.nbytes() > 0) sink = sink ^ static_cast<const uint8_t*>(t.raw())[t.nbytes() - 1];
    }
    (void)sink;
  });
}

int config_bytes(const uint8_t* data, size_t size) {
  const fs::path path = write_scratch("config.json", data, size);
  expect_clean([&] { io::load_unet_config(path); });
  expect_clean([&] { io::load_vae_config(path); });
  expect_clean([&] { io::load_clip_text_config(path); });
  expect_clean([&] { pipeline::scheduler_spec(io::read_json_object(path, "scheduler"), "", path.string()); });
  expect_clean([&] { io::load_pipeline_index(path); });
  return 0;
}

namespace {

const tokenizer::ClipTokenizer& fuzz_tokenizer() {
  static std::unique_ptr<tokenizer::ClipTokenizer> tok = [] {
    fs::path dir = g_tokenizer_dir;
    if (dir.empty()) {
      const char* ref = std::getenv("SDXL_REF");
      dir = fs::path(ref && *ref ? ref : SDXL_DEFAULT_REF_DIR) / "models/tiny-sdxl-base/tokenizer_2";
    }
    return std::make_unique<tokenizer::ClipTokenizer>(pipeline::load_clip_tokenizer(dir));
  }();
  return *tok;
}

}  // namespace

int tokenizer_bytes(const uint8_t* data, size_t size) {
  const tokenizer::ClipTokenizer* tok = &fuzz_tokenizer();
  const std::string text(reinterpret_cast<const char*>(data), size);
  return expect_clean([&] {
    pipeline::with_tokenizer_errors([&] {
      auto ids = tok->encode(text);
      if (ids.size() != 77) std::abort();  // the contract: always exactly 77 ids
      return 0;
    });
  });
}

int prompt_bytes(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  return expect_clean([&] {
    const auto parsed = pipeline::with_tokenizer_errors([&] { return tokenizer::parse_prompt_attention(text); });
    if (parsed.empty()) std::abort();  // the contract: at least one piece
    for (const auto& chunk : pipeline::chunk_prompt(parsed, fuzz_tokenizer()).chunks)
      if (chunk.ids.size() != 77 || chunk.multipliers.size() != 77) std::abort();  // every chunk is 77 tokens
  });
}

int image_bytes(const uint8_t* data, size_t size) {
  const fs::path path = write_scratch("image", data, size);
  return expect_clean([&] {
    io::Image8 image = io::read_image(path);
    if (image.pixels.size() != static_cast<size_t>(image.width * image.height * image.channels)) std::abort();
    io::to_gray(io::to_rgb(image));
  });
}

}  // namespace sdxl::fuzz

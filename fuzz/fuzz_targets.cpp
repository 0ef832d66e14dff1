#include "fuzz_targets.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "core/error.h"
#include "imaging/a1111_inpaint.h"
#include "io/image_encode.h"
#include "io/image_file.h"
#include "io/model_configs.h"
#include "io/original_layout.h"
#include "lora/lora_set.h"
#include "pipeline/prompts/lora_tags.h"
#include "io/pipeline_folder.h"
#include "io/safetensors.h"
#include "io/tensor_file.h"
#include "io/json_file.h"
#include "pipeline/request/scheduler_spec.h"
#include "pipeline/prompts/prompt_chunks.h"
#include "pipeline/prompts/tokenizer_loader.h"
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
  } catch (const Error& e) {
    // A clear error is the expected outcome for bad input; SDXL_FUZZ_VERBOSE shows which (to
    // check that seeds are accepted, not refused).
    if (std::getenv("SDXL_FUZZ_VERBOSE")) std::fprintf(stderr, "clean error: %s\n", e.what());
  }
  return 0;
}

fs::path g_tokenizer_dir;

// A stored zip as torch.save writes it: data.pkl and storages "0".."3" of 64 bytes each.
std::string pickle_in_archive(const std::string& pkl) {
  std::vector<std::pair<std::string, std::string>> entries = {{"archive/data.pkl", pkl}};
  for (int key = 0; key < 4; ++key) entries.push_back({"archive/data/" + std::to_string(key), std::string(64, '\x01')});
  std::string out, directory;
  auto le = [](std::string& s, uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  for (const auto& [name, body] : entries) {
    const uint64_t local = out.size();
    le(out, 0x04034b50, 4), le(out, 20, 2), le(out, 0, 2), le(out, 0, 2), le(out, 0, 4), le(out, 0, 4);
    le(out, body.size(), 4), le(out, body.size(), 4), le(out, name.size(), 2), le(out, 0, 2);
    out += name + body;
    le(directory, 0x02014b50, 4), le(directory, 20, 2), le(directory, 20, 2), le(directory, 0, 2), le(directory, 0, 2);
    le(directory, 0, 4), le(directory, 0, 4), le(directory, body.size(), 4), le(directory, body.size(), 4);
    le(directory, name.size(), 2), le(directory, 0, 2), le(directory, 0, 2), le(directory, 0, 2), le(directory, 0, 2);
    le(directory, 0, 4), le(directory, local, 4);
    directory += name;
  }
  const uint64_t at = out.size();
  out += directory;
  le(out, 0x06054b50, 4), le(out, 0, 4), le(out, entries.size(), 2), le(out, entries.size(), 2);
  le(out, directory.size(), 4), le(out, at, 4), le(out, 0, 2);
  return out;
}

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

int torch_bytes(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (bytes.compare(0, 2, "PK") != 0) bytes = pickle_in_archive(bytes);
  const fs::path path = write_scratch("fuzz.ckpt", reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return expect_clean([&] {
    auto file = io::open_tensor_file(path);
    volatile uint8_t sink = 0;  // every tensor's bytes must lie inside the mapping or the copies
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
    // The parameters first (a PNG's text, a JPEG's or WebP's EXIF): they are read from images the
    // pixels of which are never decoded (png-info).
    try {
      io::image_parameters(std::vector<uint8_t>(data, data + size), "fuzz");
    } catch (const Error&) {
    }
    io::Image8 image = io::read_image(path);
    if (image.pixels.size() != static_cast<size_t>(image.width * image.height * image.channels)) std::abort();
    io::to_gray(io::to_rgb(image));
    // The image as its own inpainting mask, through AUTOMATIC1111's frame and back, with options
    // and a size taken from the bytes (small images only: the fill blurs the whole image).
    if (image.width * image.height > 128 * 128 || size == 0) return;
    const uint8_t k = data[size - 1];
    imaging::InpaintOptions o;
    o.invert = k & 1;
    o.blur_x = (k >> 1) & 7;
    o.blur_y = (k >> 4) & 7;
    o.only_masked = (k & 0x80) != 0;
    o.padding = k % 13;
    o.content = (k & 0x40) ? imaging::MaskedContent::Fill : imaging::MaskedContent::Original;
    const int64_t w = 8 + static_cast<int64_t>(size % 97), h = 8 + static_cast<int64_t>((size / 7) % 97);
    const auto frame = imaging::frame_inpainting(image, image, w, h, o);
    if (frame.image.width != w || frame.image.height != h || frame.mask.width != w || frame.mask.height != h) std::abort();
    const auto back = imaging::overlay_original(frame.image, frame);
    if (back.width != (frame.paste_to ? image.width : w)) std::abort();
  });
}

namespace {

// A small model's adaptable layers (SDXL's block structure at three levels, both text encoders):
// the fuzz targets match names and merge against it without any model files.
const lora::ModelLayers& fuzz_layers() {
  static const lora::ModelLayers layers = [] {
    lora::ModelLayers l;
    l.unet_layout.levels = 3;
    l.unet_layout.down_has_attention = {false, true, true};
    l.unet_layout.up_has_attention = {true, true, false};
    auto& unet = l.components["unet"];
    unet["conv_in.weight"] = Shape{4, 4, 3, 3};
    unet["conv_in.bias"] = Shape{4};
    unet["down_blocks.1.attentions.0.proj_in.weight"] = Shape{8, 8};
    unet["down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.weight"] = Shape{8, 8};
    unet["down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight"] = Shape{8, 16};
    unet["down_blocks.1.resnets.0.conv1.weight"] = Shape{8, 4, 3, 3};
    unet["down_blocks.1.resnets.0.conv1.bias"] = Shape{8};
    unet["up_blocks.0.upsamplers.0.conv.weight"] = Shape{8, 8, 3, 3};
    unet["mid_block.attentions.0.proj_out.weight"] = Shape{8, 8};
    unet["time_embedding.linear_1.weight"] = Shape{16, 4};
    unet["time_embedding.linear_1.bias"] = Shape{16};
    l.components["text_encoder"]["text_model.encoder.layers.0.self_attn.q_proj.weight"] = Shape{8, 8};
    l.components["text_encoder_2"]["text_model.encoder.layers.0.mlp.fc1.weight"] = Shape{16, 8};
    return l;
  }();
  return layers;
}

}  // namespace

int keys_bytes(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const lora::LayerIndex index(fuzz_layers());
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string key = text.substr(start, end - start);
    start = end + 1;
    for (const auto& m : io::map_unet_key(key, fuzz_layers().unet_layout))
      if (m.name.empty()) std::abort();
    for (const auto& m : io::map_vae_key(key, 4))
      if (m.name.empty()) std::abort();
    io::map_clip_l_key(key);
    io::map_open_clip_key(key);
    io::unet_original_key(key, fuzz_layers().unet_layout);
    io::vae_original_key(key, 4);
    io::open_clip_original_key(key);
    expect_clean([&] { index.find(key); });
    std::string prompt = key;
    expect_clean([&] { pipeline::take_lora_tags(prompt); });
    if (prompt.size() > key.size()) std::abort();  // tags are only ever removed
  }
  return 0;
}

int lora_bytes(const uint8_t* data, size_t size) {
  const fs::path path = write_scratch("lora.safetensors", data, size);
  return expect_clean([&] {
    const auto set = lora::LoraSet::load({{path, 0.7}}, fuzz_layers());
    // Merge into every layer the set touches: the arithmetic must hold for whatever it accepted.
    for (const auto& [component, tensors] : fuzz_layers().components) {
      const auto patch = set->patch(component);
      if (!patch) continue;
      for (const auto& [name, shape] : tensors)
        if (patch->touches(name)) {
          const Tensor merged = patch->apply(name, Tensor::zeros(shape, DType::F32));
          if (merged.shape() != shape) std::abort();
        }
    }
  });
}

}  // namespace sdxl::fuzz

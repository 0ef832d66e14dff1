#include "random_pipeline.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/convert.h"
#include "core/error.h"
#include "core/tensor.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/common/weights.h"
#include "io/model_configs.h"
#include "models/taesd/autoencoder_tiny.h"

namespace sdxl::bench {
namespace {

namespace fs = std::filesystem;

struct Component {
  const char* folder;
  const char* manifest;  // real/manifests/<manifest>.json; nullptr: config files only
  const char* weights;   // file name without ".safetensors"
};

std::vector<Component> components(bool refiner) {
  if (refiner)
    return {{"scheduler", nullptr, nullptr},
            {"tokenizer_2", nullptr, nullptr},
            {"text_encoder_2", "refiner_text_encoder_2", "model"},
            {"unet", "refiner_unet", "diffusion_pytorch_model"},
            {"vae", "vae", "diffusion_pytorch_model"}};
  return {{"scheduler", nullptr, nullptr},
          {"tokenizer", nullptr, nullptr},
          {"tokenizer_2", nullptr, nullptr},
          {"text_encoder", "base_text_encoder", "model"},
          {"text_encoder_2", "base_text_encoder_2", "model"},
          {"unet", "base_unet", "diffusion_pytorch_model"},
          {"vae", "vae", "diffusion_pytorch_model"}};
}

// Uniform in [-0.02, 0.02], norm scales near one: the magnitudes of trained SDXL weights, so
// activations stay in a realistic range (and finite in fp16).
Tensor random_tensor(const std::string& name, const Shape& shape, DType dtype, uint64_t seed) {
  const bool norm_scale = models::is_norm_scale(name, shape);
  Tensor values = Tensor::empty(shape, DType::F32);
  float* p = values.data<float>();
  const int64_t n = values.numel(), chunk = 1 << 20;
  const uint64_t name_seed = seed ^ std::hash<std::string>{}(name);
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t begin = 0; begin < n; begin += chunk) {
    std::mt19937_64 gen(name_seed + static_cast<uint64_t>(begin));
    std::uniform_real_distribution<float> dist(-0.02f, 0.02f);
    for (int64_t i = begin; i < std::min(n, begin + chunk); ++i) p[i] = (norm_scale ? 1.0f : 0.0f) + dist(gen);
  }
  return dtype == DType::F32 ? values : values.to(dtype);
}

void write_weights(const fs::path& manifest_path, const fs::path& file, DType dtype, uint64_t seed) {
  if (fs::exists(file)) return;
  const auto manifest = io::read_json_object(manifest_path, "manifest");
  std::vector<io::TensorLayout> layout;
  for (const auto& entry : manifest.at("diffusers_layout"))
  {
    const auto dims = entry.at("shape").get<std::vector<int64_t>>();
    layout.push_back({entry.at("name").get<std::string>(), dtype, Shape::from_range(dims.begin(), dims.end())});
  }
  std::fprintf(stderr, "writing %s (%zu tensors)\n", file.string().c_str(), layout.size());
  io::write_safetensors(file, layout, [&](size_t i) { return random_tensor(layout[i].name, layout[i].shape, dtype, seed); },
                        {{"format", "pt"}});
}

void copy_if_absent(const fs::path& from, const fs::path& to) {
  if (!fs::exists(to)) fs::copy_file(from, to);
}

}  // namespace

void write_random_pipeline(const fs::path& reference, const fs::path& out, const RandomPipelineSpec& spec) {
  SDXL_CHECK(spec.dtype == DType::F16 || spec.dtype == DType::F32, InvalidArgument,
             "[random pipeline] weights are written as fp16 or fp32");
  const fs::path configs =
      reference / "real" / (spec.refiner ? "stable-diffusion-xl-refiner-1.0" : "stable-diffusion-xl-base-1.0");
  SDXL_CHECK(fs::is_directory(configs), Io, "[random pipeline] ", configs.string(),
             " is missing: the real configs come from sdxl-ref (set SDXL_REF)");
  fs::create_directories(out);
  copy_if_absent(configs / "model_index.json", out / "model_index.json");
  const std::string suffix = spec.dtype == DType::F16 ? ".fp16.safetensors" : ".safetensors";
  for (const auto& c : components(spec.refiner)) {
    const fs::path dir = out / c.folder;
    fs::create_directories(dir);
    for (const auto& entry : fs::directory_iterator(configs / c.folder)) copy_if_absent(entry.path(), dir / entry.path().filename());
    if (std::string(c.folder).rfind("tokenizer", 0) == 0) {
      copy_if_absent(reference / "tokenizer/vocab.json", dir / "vocab.json");
      copy_if_absent(reference / "tokenizer/merges.txt", dir / "merges.txt");
    }
    if (c.manifest)
      write_weights(reference / "real/manifests" / (std::string(c.manifest) + ".json"), dir / (std::string(c.weights) + suffix),
                    spec.dtype, spec.seed);
  }
}

void write_random_single_file(const fs::path& reference, const fs::path& out, uint64_t seed) {
  if (fs::exists(out)) return;
  std::vector<io::TensorLayout> layout;
  for (const char* manifest : {"base_text_encoder", "base_text_encoder_2", "base_unet", "vae"}) {
    const auto m = io::read_json_object(reference / "real/manifests" / (std::string(manifest) + ".json"), "manifest");
    for (const auto& entry : m.at("original_layout")) {
      const auto dims = entry.at("shape").get<std::vector<int64_t>>();
      layout.push_back({entry.at("name").get<std::string>(), DType::F16, Shape::from_range(dims.begin(), dims.end())});
    }
  }
  std::fprintf(stderr, "writing %s (%zu tensors)\n", out.string().c_str(), layout.size());
  const fs::path partial = out.string() + ".partial";
  io::write_safetensors(partial, layout, [&](size_t i) { return random_tensor(layout[i].name, layout[i].shape, DType::F16, seed); },
                        {{"format", "pt"}});
  fs::rename(partial, out);
}

void write_random_taesd(const fs::path& out, uint64_t seed) {
  fs::create_directories(out);
  const nlohmann::json config = {{"_class_name", "AutoencoderTiny"},
                                 {"act_fn", "relu"},
                                 {"encoder_block_out_channels", {64, 64, 64, 64}},
                                 {"decoder_block_out_channels", {64, 64, 64, 64}},
                                 {"block_out_channels", {64, 64, 64, 64}},
                                 {"num_encoder_blocks", {1, 3, 3, 3}},
                                 {"num_decoder_blocks", {3, 3, 3, 1}},
                                 {"in_channels", 3},
                                 {"out_channels", 3},
                                 {"latent_channels", 4},
                                 {"latent_magnitude", 3},
                                 {"latent_shift", 0.5},
                                 {"scaling_factor", 1.0},
                                 {"upsampling_scaling_factor", 2},
                                 {"force_upcast", false}};
  std::ofstream(out / "config.json") << config.dump(2) << "\n";
  const fs::path file = out / "diffusion_pytorch_model.safetensors";
  if (fs::exists(file)) return;
  models::ShapeRecorder recorder;  // the names and shapes the model binds
  models::AutoencoderTiny::load(io::parse_tiny_autoencoder_config(config, "taesdxl"), recorder);
  std::vector<io::TensorLayout> layout;
  for (const auto& [name, shape] : recorder.shapes()) layout.push_back({name, DType::F32, shape});
  std::fprintf(stderr, "writing %s (%zu tensors)\n", file.string().c_str(), layout.size());
  // Scaled like a trained convolution (about 1 / sqrt(fan-in)), so activations neither vanish nor blow up.
  io::write_safetensors(file, layout, [&](size_t i) {
    Tensor t = random_tensor(layout[i].name, layout[i].shape, DType::F32, seed);
    const int64_t fan_in = layout[i].shape.rank() == 4 ? layout[i].shape[1] * layout[i].shape[2] * layout[i].shape[3] : 1;
    const float scale = layout[i].shape.rank() == 4 ? 50.0f / std::sqrt(static_cast<float>(fan_in)) : 1.0f;
    for (int64_t k = 0; k < t.numel(); ++k) t.data<float>()[k] *= scale;
    return t;
  });
}

}  // namespace sdxl::bench

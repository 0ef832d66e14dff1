#include "lora_swap.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "bench_support.h"
#include "io/safetensors.h"
#include "pipeline/engine.h"
#include "pipeline/request/sampler_table.h"

namespace sdxl::bench {
namespace fs = std::filesystem;

namespace {

bool is_attention_projection(const std::string& name) {
  for (const char* end : {".to_q.weight", ".to_k.weight", ".to_v.weight", ".to_out.0.weight"})
    if (name.size() > std::string(end).size() && name.compare(name.size() - std::string(end).size(), std::string::npos, end) == 0)
      return name.find(".attn1.") != std::string::npos || name.find(".attn2.") != std::string::npos;
  return false;
}

Tensor random_matrix(Shape shape, std::mt19937& gen, float scale) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(gen);
  return t;
}

}  // namespace

fs::path attention_lora(const fs::path& model, const fs::path& dir, int rank, unsigned seed) {
  const fs::path path = dir / ("attention-lora-r" + std::to_string(rank) + (seed == 8 ? "" : "-s" + std::to_string(seed)) +
                               ".safetensors");
  if (fs::exists(path)) return path;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(model / "unet"))
    if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  const io::WeightSet unet = io::open_weight_set("unet", files);
  std::mt19937 gen(seed);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const std::string& name : unet.names()) {
    if (!is_attention_projection(name)) continue;
    const Shape& shape = unet.record(name)->shape;  // [out, in]
    const std::string module = "unet." + name.substr(0, name.size() - std::string(".weight").size());
    tensors.emplace_back(module + ".lora_A.weight", random_matrix(Shape{rank, shape[1]}, gen, 0.02f));
    tensors.emplace_back(module + ".lora_B.weight", random_matrix(Shape{shape[0], rank}, gen, 0.02f));
  }
  fs::create_directories(dir);
  io::write_safetensors(path, tensors);
  return path;
}

std::string measure_lora_swap(const fs::path& model, const fs::path& lora, const fs::path& other_lora,
                              ops::Precision precision) {
  pipeline::EngineOptions options;
  options.model = model;
  options.precision = precision;
  auto engine = pipeline::Engine::load(options);

  pipeline::EngineRequest request;
  auto& r = request.generate;
  r.prompts.prompt = pipeline::PromptArg::text("a photo of an astronaut riding a horse on the moon");
  r.width = r.height = 512;
  r.steps = 1;
  r.guidance.scale = 0.0;
  r.decode = false;
  const auto sampler = pipeline::resolve_sampler("euler");
  r.scheduler = sampler.entry->scheduler;
  r.scheduler_overrides = sampler.overrides();
  auto timed = [&](const fs::path& with) {
    request.loras.clear();
    if (!with.empty()) request.loras.push_back({with, 1.0});
    const auto start = std::chrono::steady_clock::now();
    engine->generate(request);
    return seconds_since(start);
  };
  timed({});
  const double plain = timed({});
  const double swap_on = timed(lora);
  const double with_lora = timed(lora);
  const double switched = timed(other_lora);
  const double with_other = timed(other_lora);
  const double swap_off = timed({});
  const double swap_on_again = timed(lora);
  char line[320];
  std::snprintf(line, sizeof line,
                "RESULT lora_swap_s=%.2f lora_switch_s=%.2f lora_unswap_s=%.2f lora_reswap_s=%.2f lora_step_s=%.2f "
                "plain_step_s=%.2f",
                swap_on - with_lora, switched - with_other, swap_off - plain, swap_on_again - with_lora, with_lora,
                plain);
  return line;
}

}  // namespace sdxl::bench

#include "recipes.h"

#include <chrono>
#include <cstdio>

#include "bench_support.h"
#include "ops.h"
#include "pipeline/engine.h"
#include "pipeline/request/sampler_table.h"

namespace sdxl::bench {

std::vector<Recipe> recipes() {
  // The standard recipe runs 2 of its 30 steps: a step's time does not depend on which it is.
  return {
      {"standard 1024, 30 Euler steps, CFG 5, VAE", 1024, 30, 5.0, "euler", "", "fp32", false, 2, false},
      {"standard 1024, 30 Euler steps, CFG 5, VAE", 1024, 30, 5.0, "euler", "", "bf16", false, 2, false},
      {"Lightning-style 1024, 4 steps, no CFG, VAE", 1024, 4, 0.0, "euler", "trailing", "bf16", false, 0, false},
      {"Lightning-style 1024, 4 steps, no CFG, TAESD", 1024, 4, 0.0, "euler", "trailing", "bf16", true, 0, false},
      {"Turbo-style 512, 1 step, no CFG, TAESD", 512, 1, 0.0, "euler_a", "trailing", "bf16", true, 0, true},
      {"Turbo-style 512, 4 steps, no CFG, TAESD", 512, 4, 0.0, "euler_a", "trailing", "bf16", true, 0, true},
  };
}

std::string measure_recipe(const Recipe& recipe, const std::filesystem::path& model, const std::filesystem::path& taesd) {
  const auto load_start = std::chrono::steady_clock::now();
  pipeline::EngineOptions options;
  options.model = model;
  options.precision = recipe.precision == "bf16" ? ops::Precision::BF16 : ops::Precision::F32;
  if (recipe.taesd) options.taesd = taesd;
  auto engine = pipeline::Engine::load(options);
  const double load_s = seconds_since(load_start);

  pipeline::EngineRequest request;
  auto& r = request.generate;
  r.prompts.prompt = pipeline::PromptArg::text("a photo of an astronaut riding a horse on the moon");
  r.width = r.height = recipe.size;
  r.guidance.scale = recipe.guidance;
  const auto sampler = pipeline::resolve_sampler(recipe.sampler);
  r.scheduler = sampler.entry->scheduler;
  r.scheduler_overrides = sampler.overrides();
  if (!recipe.spacing.empty()) r.scheduler_overrides["timestep_spacing"] = recipe.spacing;
  // A step's time does not depend on which step it is: a shorter run, its UNet time scaled up.
  const int run_steps = recipe.measured_steps > 0 ? recipe.measured_steps : recipe.steps;
  r.steps = run_steps;
  if (recipe.warm_up) engine->generate(request);
  // One UNet step's FLOPs: the count between the first and the last step's reports.
  double first_report = 0, last_report = 0;
  r.on_progress = [&](const pipeline::Progress& p) {
    if (std::string(p.stage) == "denoising") (p.step == 1 ? first_report : last_report) = ops::flop_count();
    return pipeline::ProgressAnswer::Go;
  };
  ops::reset_flop_count();
  const auto start = std::chrono::steady_clock::now();
  pipeline::StageSeconds s;
  s = engine->generate(request).final.seconds;
  const double step_gflop = run_steps > 1 ? (last_report - first_report) * 1e-9 / (run_steps - 1) : 0.0;
  const double scale = static_cast<double>(recipe.steps) / run_steps;
  const double other = seconds_since(start) - s.total();  // outside the stages: request checks, copies
  s.denoise *= scale;
  char line[256];
  std::snprintf(line, sizeof line, "RESULT load_s=%.2f text_s=%.2f unet_s=%.2f decode_s=%.2f total_s=%.2f step_gflop=%.1f",
                load_s, s.text, s.denoise, s.decode, s.total() + other, step_gflop);
  return line;
}

}  // namespace sdxl::bench

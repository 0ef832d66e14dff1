// The requests of the pipeline golden cases, built from a case's params as diffusers got them.
#pragma once

#include <nlohmann/json.hpp>

#include "pipeline/engine.h"

namespace sdxl {

inline pipeline::GenerateRequest base_request(const nlohmann::json& p) {
  pipeline::GenerateRequest r;
  r.prompts.prompt = pipeline::PromptArg::text(p["prompt"]);
  if (p.contains("negative_prompt") && p["negative_prompt"].is_string())
    r.prompts.negative_prompt = pipeline::PromptArg::text(p["negative_prompt"]);
  r.steps = p["num_inference_steps"];
  r.guidance.scale = p.value("guidance_scale", 5.0);
  r.scheduler = p["scheduler"];
  r.scheduler_overrides = p.value("scheduler_config_overrides", nlohmann::json::object());
  if (p.contains("width")) r.width = p["width"];
  if (p.contains("height")) r.height = p["height"];
  if (p.contains("strength")) r.strength = p["strength"];
  if (p.contains("seed")) r.seed = p["seed"];
  return r;
}

// An ensemble case's base and refiner settings: its denoising_end is also its denoising_start.
inline void ask_for_ensemble(const nlohmann::json& p, pipeline::EngineRequest& request) {
  request.generate.seed = p["base_seed"];
  request.generate.aesthetic_score = p["aesthetic_score"];
  request.generate.negative_aesthetic_score = p["negative_aesthetic_score"];
  request.refiner.mode = pipeline::RefinerMode::Ensemble;
  request.refiner.high_noise_frac = p["denoising_end"];
  request.refiner.seed = p["refiner_seed"];
}

}  // namespace sdxl

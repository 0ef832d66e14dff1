// The request a pipeline golden case describes: its prompts, steps, guidance, scheduler class and
// seed, one torch.Generator for the batch (what diffusers' pipelines were called with).
#pragma once

#include <nlohmann/json.hpp>

#include "pipeline/request/generate_request.h"

namespace sdxl::test {

inline pipeline::GenerateRequest request_of_case(const nlohmann::json& c) {
  const auto& p = c["params"];
  pipeline::GenerateRequest r;
  r.prompts.prompt = pipeline::PromptArg::text(p["prompt"]);
  if (p.contains("negative_prompt")) r.prompts.negative_prompt = pipeline::PromptArg::text(p["negative_prompt"]);
  r.steps = p["num_inference_steps"];
  r.guidance.scale = p["guidance_scale"];
  r.scheduler = p["scheduler"];
  r.seed = p["seed"];
  r.seeding = rng::BatchSeeding::Shared;  // one torch.Generator
  if (p.contains("height")) r.height = p["height"];
  if (p.contains("width")) r.width = p["width"];
  return r;
}

}  // namespace sdxl::test

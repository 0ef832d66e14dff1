#include "pipeline/sampler_names.h"

#include "core/error.h"

namespace sdxl::pipeline {

SamplerChoice sampler_choice(const std::string& name, bool karras) {
  SamplerChoice c;
  c.overrides = nlohmann::json::object();
  if (name == "euler") c = {"EulerDiscreteScheduler", c.overrides, "Euler"};
  else if (name == "euler_a") c = {"EulerAncestralDiscreteScheduler", c.overrides, "Euler a"};
  else if (name == "dpmpp_2m") c = {"DPMSolverMultistepScheduler", c.overrides, "DPM++ 2M"};
  else if (name == "dpmpp_2m_sde") c = {"DPMSolverMultistepScheduler", {{"algorithm_type", "sde-dpmsolver++"}}, "DPM++ 2M SDE"};
  else if (name == "ddim") c = {"DDIMScheduler", c.overrides, "DDIM"};
  else if (name == "heun") c = {"HeunDiscreteScheduler", c.overrides, "Heun"};
  else if (name == "lms") c = {"LMSDiscreteScheduler", c.overrides, "LMS"};
  else if (name == "unipc") c = {"UniPCMultistepScheduler", c.overrides, "UniPC"};
  else if (name == "kdpm2") c = {"KDPM2DiscreteScheduler", c.overrides, "DPM2"};
  else if (name == "kdpm2_a") c = {"KDPM2AncestralDiscreteScheduler", c.overrides, "DPM2 a"};
  else
    fail(ErrorCode::InvalidArgument, "[sampler] unknown sampler '", name,
         "' (known: euler, euler_a, dpmpp_2m, dpmpp_2m_sde, ddim, heun, lms, unipc, kdpm2, kdpm2_a)");
  if (karras) {
    c.overrides["use_karras_sigmas"] = true;
    c.display += " Karras";
  }
  return c;
}

}  // namespace sdxl::pipeline

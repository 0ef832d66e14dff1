#include "pipeline/request/scheduler_spec.h"

#include <algorithm>

#include "io/json_file.h"

namespace sdxl::pipeline {
namespace {

void require_one_of(const io::JsonFields& f, const char* key, const std::string& value,
                    std::initializer_list<const char*> allowed) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return;
    list += (list.empty() ? "" : ", ") + std::string(a);
  }
  f.unsupported(key, value, list);
}

}  // namespace

samplers::SchedulerSpec scheduler_spec(const nlohmann::json& config, const std::string& type, const std::string& origin) {
  io::JsonFields f(config, origin, "scheduler");
  samplers::SchedulerSpec s;
  s.type = type.empty() ? f.string("_class_name", s.type) : type;
  const bool ddim = s.type == "DDIMScheduler";
  s.num_train_timesteps = f.integer("num_train_timesteps", s.num_train_timesteps);
  // It sizes the scheduler's tables: bounded before anything is allocated from it.
  if (s.num_train_timesteps <= 0 || s.num_train_timesteps > 100000) f.bad("num_train_timesteps", "must be in [1, 100000]");
  s.beta_start = f.number("beta_start", s.beta_start);
  s.beta_end = f.number("beta_end", s.beta_end);
  s.beta_schedule = f.string("beta_schedule", s.beta_schedule);
  require_one_of(f, "beta_schedule", s.beta_schedule, {"linear", "scaled_linear", "squaredcos_cap_v2"});
  if (f.has("trained_betas")) {
    const auto& betas = config.at("trained_betas");
    if (!betas.is_array()) f.bad("trained_betas", "must be a list of numbers");
    for (const auto& b : betas) {
      if (!b.is_number()) f.bad("trained_betas", "must be a list of numbers");
      s.trained_betas.push_back(b.get<double>());
    }
  }
  s.prediction_type = f.string("prediction_type", s.prediction_type);
  require_one_of(f, "prediction_type", s.prediction_type, {"epsilon", "v_prediction", "sample"});
  s.timestep_spacing = f.optional_string("timestep_spacing");
  if (s.timestep_spacing) require_one_of(f, "timestep_spacing", *s.timestep_spacing, {"linspace", "leading", "trailing"});
  s.steps_offset = f.integer("steps_offset", 0);
  s.use_karras_sigmas = f.boolean("use_karras_sigmas", false);
  s.interpolation_type = f.string("interpolation_type", "linear");
  require_one_of(f, "interpolation_type", s.interpolation_type, {"linear", "log_linear"});
  require_one_of(f, "timestep_type", f.string("timestep_type", "discrete"), {"discrete", "continuous"});
  s.rescale_betas_zero_snr = f.boolean("rescale_betas_zero_snr", false);
  s.sigma_min = f.optional_number("sigma_min");
  s.sigma_max = f.optional_number("sigma_max");
  s.solver_order = f.integer("solver_order", 2);
  s.algorithm_type = f.string("algorithm_type", "dpmsolver++");
  // UniPC's default solver is bh2; DPM-Solver's is midpoint.
  s.solver_type = f.string("solver_type", s.type == "UniPCMultistepScheduler" ? "bh2" : "midpoint");
  // Converting between these classes, diffusers maps the other family's solver names to its own
  // default (UniPC: midpoint/heun/logrho -> bh2; DPM-Solver: logrho/bh1/bh2 -> midpoint; deis -> dpmsolver++).
  if (s.type == "UniPCMultistepScheduler" && s.solver_type != "bh1" && s.solver_type != "bh2") s.solver_type = "bh2";
  const bool dpm_solver = s.type == "DPMSolverMultistepScheduler" || s.type == "DPMSolverSinglestepScheduler";
  if (dpm_solver && (s.solver_type == "logrho" || s.solver_type == "bh1" || s.solver_type == "bh2"))
    s.solver_type = "midpoint";
  if (s.algorithm_type == "deis") s.algorithm_type = "dpmsolver++";
  s.lower_order_final = f.boolean("lower_order_final", true);
  s.euler_at_final = f.boolean("euler_at_final", false);
  s.set_alpha_to_one = f.boolean("set_alpha_to_one", s.type != "PNDMScheduler");  // each class's own default
  s.clip_sample = f.boolean("clip_sample", ddim || s.type == "DDPMScheduler");  // only DDIM and DDPM clip by default
  s.skip_prk_steps = f.boolean("skip_prk_steps", false);
  s.variance_type = f.string("variance_type", "fixed_small");
  s.clip_sample_range = f.number("clip_sample_range", 1.0);
  s.eta = f.number("eta", 0.0);
  s.ancestral_eta = f.number("ancestral_eta", 1.0);  // k-diffusion's eta, as AUTOMATIC1111 passes it  // a step argument in diffusers: sdxl carries it as a request override
  s.original_inference_steps = f.integer("original_inference_steps", 50);
  s.timestep_scaling = f.number("timestep_scaling", 10.0);
  if (f.boolean("thresholding", false)) f.unsupported("thresholding", "true", "false");
  return s;
}

}  // namespace sdxl::pipeline

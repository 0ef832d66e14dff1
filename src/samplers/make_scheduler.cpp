#include "core/error.h"
#include "samplers/samplers_internal.h"

namespace sdxl::samplers {

std::unique_ptr<Scheduler> make_scheduler(const SchedulerSpec& spec) {
  // It sizes the schedule's tables: bounded before anything is allocated from it.
  SDXL_CHECK(spec.num_train_timesteps > 0 && spec.num_train_timesteps <= 100000, InvalidArgument,
             "[scheduler] num_train_timesteps must be in [1, 100000], got ", spec.num_train_timesteps);
  const std::string& type = spec.type;
  if (type == "EulerDiscreteScheduler") return make_euler(spec, false);
  if (type == "EulerAncestralDiscreteScheduler") return make_euler(spec, true);
  if (type == "DPMSolverMultistepScheduler") return make_dpm_solver(spec);
  if (type == "DDIMScheduler") return make_ddim(spec);
  if (type == "HeunDiscreteScheduler") return make_heun(spec);
  if (type == "LMSDiscreteScheduler") return make_lms(spec);
  if (type == "UniPCMultistepScheduler") return make_unipc(spec);
  if (type == "KDPM2DiscreteScheduler") return make_kdpm2(spec, false);
  if (type == "KDPM2AncestralDiscreteScheduler") return make_kdpm2(spec, true);
  if (type == "LCMScheduler") return make_lcm(spec);
  if (type == "DPMSolverSinglestepScheduler") return make_dpm_singlestep(spec);
  if (type == "DEISMultistepScheduler") return make_deis(spec);
  if (type == "PNDMScheduler") return make_plms(spec);
  if (type == "DDPMScheduler") return make_ddpm(spec);
  fail(ErrorCode::Unsupported, "[scheduler] ", type,
       " is not supported yet (EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, DPMSolverMultistepScheduler, "
       "DPMSolverSinglestepScheduler, DEISMultistepScheduler, DDIMScheduler, DDPMScheduler, PNDMScheduler, "
       "HeunDiscreteScheduler, LMSDiscreteScheduler, UniPCMultistepScheduler, KDPM2DiscreteScheduler, "
       "KDPM2AncestralDiscreteScheduler, LCMScheduler are)");
}

}  // namespace sdxl::samplers

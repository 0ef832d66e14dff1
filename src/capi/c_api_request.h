// The C API's generation parameters as the pipeline's EngineRequest: the one conversion on the
// library's side of the C edge (the C++ side's is sdxl::api::GenerateParams, sdxl/generation.hpp).
// Every value sdxl_generate_params can carry is checked here or by the engine's check, and an
// error names the member at fault (sdxl_last_error_parameter).
#pragma once

#include <vector>

#include "pipeline/engine.h"
#include "sdxl/sdxl.h"

namespace sdxl::capi {

// What the request is converted for: running it, or only checking it (sdxl_engine_check,
// sdxl_check_capacity: the init image and mask are not resized, only their sizes are taken).
enum class Purpose { Run, Check };

// `engine`: for the progress callback's previews; null where nothing runs.
pipeline::EngineRequest to_request(const sdxl_generate_params& p, const pipeline::Engine* engine, int64_t vae_scale,
                                   bool has_refiner, Purpose purpose);
inline pipeline::EngineRequest to_request(const sdxl_generate_params& p, const pipeline::Engine& engine, Purpose purpose) {
  return to_request(p, &engine, engine.vae_scale(), engine.has_refiner(), purpose);
}

// The ControlNet units of `p`; a check takes their images' sizes only. Errors name the unit's
// member ("controlnets[0].scale").
std::vector<pipeline::ControlSpec> control_specs(const sdxl_generate_params& p, Purpose purpose);
std::optional<pipeline::IpAdapterSpec> ip_adapter_spec(const sdxl_generate_params& p, Purpose purpose);

// The refiner settings of `p` ("ensemble" by default when the engine has a refiner).
pipeline::RefinerSettings refiner_settings(const sdxl_generate_params& p, bool has_refiner);
// A C LoRA list; `what` names it in errors ("loras", "refiner_loras").
std::vector<lora::LoraSpec> loras_of(const sdxl_lora* loras, int count, const char* what);

}  // namespace sdxl::capi

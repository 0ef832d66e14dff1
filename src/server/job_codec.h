// A GenerationSpec as the JSON a front end puts on the Redis stream and a worker reads back:
// images travel as lossless PNG, LoRAs as paths inside the LoRA folder (front ends and workers
// each resolve them in their own --lora-dir), seeds as fixed at submission.
#pragma once

#include <string>

#include "server/generation_spec.h"

namespace sdxl::server {

// `lora_dir`: the front end's LoRA folder, which spec.loras' paths lie in.
std::string encode_job(const GenerationSpec& spec, const std::string& lora_dir);
// `lora_dir`: the worker's LoRA folder; a LoRA missing there, or a path leaving it, is a
// RequestError (the job fails with 4xx), as is JSON that is not a job.
GenerationSpec decode_job(const std::string& text, const std::string& lora_dir);

}  // namespace sdxl::server

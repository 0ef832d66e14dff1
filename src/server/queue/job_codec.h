// A job as the Redis queue stores it: the generation's JSON form (server/generation_json.h)
// with the job's checkpoint ("model") and repeats ("n_iter"), LoRAs named by their path inside
// --lora-dir (front ends and workers each have their own copy of the folder).
#pragma once

#include <string>

#include "server/jobs/job_request.h"

namespace sdxl::server {

// RequestError (422, "loras") when a LoRA is not inside `lora_dir`.
std::string encode_job(const JobRequest& job, const std::string& lora_dir);
// RequestError when the text is not a job, or a LoRA is not in this worker's `lora_dir`.
JobRequest decode_job(const std::string& text, const std::string& lora_dir);

}  // namespace sdxl::server

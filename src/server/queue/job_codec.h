// A job as the Redis queue stores it: the generation's JSON form (server/generation_json.h)
// with the job's checkpoint ("model") and repeats ("n_iter"), LoRAs and ControlNets named by their
// path inside --lora-dir and --controlnet-dir (front ends and workers each have their own copy).
#pragma once

#include <string>

#include "server/jobs/job_request.h"

namespace sdxl::server {

// RequestError (422, "loras" / "controlnets") when a LoRA or ControlNet is not inside its folder.
std::string encode_job(const JobRequest& job, const std::string& lora_dir, const std::string& controlnet_dir = "");
// RequestError when the text is not a job, or a LoRA or ControlNet is not in this worker's folder.
JobRequest decode_job(const std::string& text, const std::string& lora_dir, const std::string& controlnet_dir = "");

}  // namespace sdxl::server

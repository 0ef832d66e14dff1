// A job as the Redis queue stores it: the generation's JSON form (server/generation_json.h)
// with the job's checkpoint ("model") and repeats ("n_iter"), LoRAs, ControlNets (and adapters)
// and image encoders named by their path inside --lora-dir, --controlnet-dir and
// --image-encoder-dir (front ends and workers each have their own copy).
#pragma once

#include <string>

#include "server/jobs/job_request.h"

namespace sdxl::server {

struct QueueFolders {
  std::string lora_dir, controlnet_dir, image_encoder_dir, upscaler_dir;
};

// RequestError (422, "loras" / "controlnets" / "ip_adapter.image_encoder") when a file is not
// inside its folder.
std::string encode_job(const JobRequest& job, const QueueFolders& folders);
// RequestError when the text is not a job, or a file is not in this worker's folder.
JobRequest decode_job(const std::string& text, const QueueFolders& folders);

}  // namespace sdxl::server

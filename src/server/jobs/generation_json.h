// The JSON form of a generation: the jobs API's request body and the job the Redis queue stores,
// read and written from one field list (generation_json.cpp), in diffusers' parameter names
// (num_inference_steps, guidance_scale, image, mask_image, ...). A field added to that list
// reaches the jobs API and the queue at once. Values are checked for their type here; their
// bounds are the library's (sdxl_engine_check at submit), whose errors name the library's
// parameter, which generation_json_field turns back into this form's name.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sdxl/generation.hpp"
#include "server/jobs/job_request.h"

namespace sdxl::server {

// How LoRA files (and ControlNets) are named in JSON: the file a name stands for (RequestError
// naming `field` when there is none), and the name written for a file. Without the ControlNet
// pair, a generation with ControlNets is refused (422 naming "controlnets").
struct FileNaming {
  std::function<std::string(const std::string& name, const char* field)> file_of;
  std::function<std::string(const std::string& path)> name_of;
  std::function<std::string(const std::string& name, const std::string& field)> controlnet_file_of;
  std::function<std::string(const std::string& path)> controlnet_name_of;
  // IP-Adapters' image encoders (by name in --image-encoder-dir); without them an ip_adapter is refused.
  std::function<std::string(const std::string& name, const std::string& field)> image_encoder_file_of;
  std::function<std::string(const std::string& path)> image_encoder_name_of;
  // The hires fix's upscaler models (by name in --upscaler-dir); without them only the built-in
  // upscalers (latent modes, Lanczos, Nearest) are available.
  std::function<std::string(const std::string& name, const std::string& field)> upscaler_file_of;
  std::function<std::string(const std::string& path)> upscaler_name_of;
};

nlohmann::json generation_to_json(const api::Generation& generation, const FileNaming& loras);

// The fields of `object` over `defaults`: each one present is type-checked (RequestError naming
// it). A field this form does not have is refused (RequestError naming it) unless it is one of
// `also_allowed` (what the caller reads itself: "model", "n_iter").
api::Generation generation_from_json(const nlohmann::json& object, const FileNaming& loras, api::Generation defaults,
                                     const std::vector<std::string>& also_allowed);

// This form's name for a library parameter (sdxl_last_error_parameter): "steps" ->
// "num_inference_steps", "init_image" -> "image"; the parameter itself when it has no other.
std::string generation_json_field(const std::string& parameter);

class Fields;
// An ImageOutput from a request's format field ("png", "jpeg"/"jpg", "webp"; absent: png),
// quality field (1-100; absent: 0, the default) and WebP lossless field (absent: false), each
// name "" where the API has no such field; RequestError with `status` naming the field.
ImageOutput image_output_of(const Fields& f, const char* format_field, const char* quality_field, const char* lossless_field,
                            int status = 422);

}  // namespace sdxl::server

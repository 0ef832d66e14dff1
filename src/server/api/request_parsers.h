// Each API family's request body as a job: AUTOMATIC1111's txt2img / img2img fields and
// defaults, the OpenAI Images API's, and the jobs API's (the generation's JSON form,
// server/generation_json.h). Values are checked for their type here; their bounds are the
// library's, checked when the job is submitted, whose errors name a library parameter that each
// family's *_field_of turns into its own field's name. Names of checkpoints and LoRAs resolve
// only through `names`, never to a path the request makes up. No model is needed: the fuzz
// target runs these.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/jobs/prompt_styles.h"
#include "server/jobs/job_request.h"

namespace sdxl::server {

// AUTOMATIC1111's n_iter x batch_size at most (its own n_iter limit, at batch size 1).
constexpr int kMaxImagesPerCall = 100;

struct NameLookup {
  std::function<bool(const std::string&)> has_checkpoint;
  std::function<std::optional<std::string>(const std::string&)> lora;  // a LoRA name's file
  // A ControlNet's file or folder by the extension's name ("name" or "name [hash]"); its name for a path.
  std::function<std::optional<std::string>(const std::string&)> controlnet;
  std::function<std::string(const std::string&)> controlnet_name;
  // An image encoder's file or folder in --image-encoder-dir by its name (clip_g, clip_h, ...).
  std::function<std::optional<std::string>(const std::string&)> image_encoder;
  // An upscaler model in --upscaler-dir by its name.
  std::function<std::optional<std::string>(const std::string&)> upscaler;
  std::string refiner;                                                 // the server's refiner, if any
  std::string vae;                                                     // the server's --vae file name, if any
  const PromptStyles* styles = nullptr;                                // AUTOMATIC1111's styles, if any
};

// `echo`: the request with its defaults filled in (the A1111 reply's `parameters`); `ignored`:
// the body's fields outside AUTOMATIC1111's schema (a1111_fields.h).
JobRequest parse_a1111_request(const nlohmann::json& body, bool img2img, const NameLookup& names, nlohmann::json& echo,
                               std::vector<std::string>& ignored);
JobRequest parse_job_request(const nlohmann::json& body, const NameLookup& names);
// How an OpenAI Images request wants its answer: `format` "b64_json" or "url"; `stream`: as
// Server-Sent Events, with up to `partial_images` (0-3) previews before the images.
struct OpenAiAnswer {
  std::string format = "b64_json";
  bool stream = false;
  int partial_images = 0;
  std::string size = "1024x1024";  // as the request gave it ("auto" for an edit's own size)
};
// `edit`: the fields of /v1/images/edits too (its images are the caller's: parse_openai_edit).
JobRequest parse_openai_request(const nlohmann::json& body, const NameLookup& names, OpenAiAnswer& answer, bool edit = false);
// POST /v1/images/edits: a multipart/form-data body (`content_type` names its boundary) with
// `image` (or one `image[]`), an optional `mask` (a PNG whose transparent pixels are the ones
// to repaint; without one, an image's own transparency is its mask), and the generation fields.
JobRequest parse_openai_edit(const std::string& body, const std::string& content_type, const NameLookup& names,
                             OpenAiAnswer& answer);

// Each family's field for a library parameter (sdxl_last_error_parameter).
std::string a1111_field_of(const std::string& parameter);
std::string jobs_field_of(const std::string& parameter);
std::string openai_field_of(const std::string& parameter);

}  // namespace sdxl::server

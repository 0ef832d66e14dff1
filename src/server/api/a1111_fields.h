// AUTOMATIC1111's request schema, field by field. Its API accepts every parameter of
// StableDiffusionProcessingTxt2Img / Img2Img (and a few of its own); sdxl gives each one of three
// answers: it does what AUTOMATIC1111 does (parsed in request_parsers.cpp or here), it cannot
// matter here (saving, grids, the hires fields while hires fix is off), or it is refused with a
// 422 naming it. Fields outside the schema are ignored, as AUTOMATIC1111's pydantic models ignore
// them, but named, so that a typo is visible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sdxl/generation.hpp"
#include "server/jobs/prompt_styles.h"
#include "server/http/request_fields.h"

namespace sdxl::server {

// Checks the fields common_request does not parse, applies those that change the generation
// (eta per sampler kind, AUTOMATIC1111's eta options), and returns the body's fields outside
// the schema. RequestError (422) naming the first field whose value sdxl cannot honour.
std::vector<std::string> apply_a1111_fields(const nlohmann::json& body, bool img2img, const PromptStyles* styles, api::Generation& g);

// override_settings (`per_request`, prefix "override_settings.") and POST /options (prefix "")
// keys: each honoured where it is read, harmless at its value, or refused naming prefix + key.
// `vae`: the server's --vae file name ("" when none).
void check_a1111_options(const nlohmann::json& settings, const std::string& prefix, const std::string& vae, bool per_request);

}  // namespace sdxl::server

// AUTOMATIC1111's ControlNet extension (Mikubill/sd-webui-controlnet v1.1.455) as its API takes
// units: alwayson_scripts.controlnet.args in txt2img and img2img, each unit's fields with the
// extension's defaults, aliases and bound rules (weight 0-2; processor_res and thresholds outside
// their module's sliders take the slider's default; guidance_start <= guidance_end), its step
// window and control modes; what sdxl cannot do (a preprocessor needing a network, advanced
// weighting, batch inputs) is a 422 naming the unit's field, never a silent skip.
#pragma once

#include <nlohmann/json.hpp>

#include "sdxl/generation.hpp"
#include "server/api/request_parsers.h"

namespace sdxl::server {

// The controlnet script's units of `body` (its alwayson_scripts entry, any letter case) added to
// `g`; img2img units without an image take the init image.
void apply_a1111_controlnet(const nlohmann::json& body, bool img2img, const NameLookup& names, api::Generation& g);

// Whether an alwayson_scripts key is the ControlNet extension's (its title, any letter case).
bool is_controlnet_script(const std::string& key);

// The extension's modules: those sdxl runs ("none", "canny") and the others it knows (refused by name).
bool is_extension_module(const std::string& name);

}  // namespace sdxl::server

// AUTOMATIC1111's parse_generation_parameters (modules/infotext_utils.py, 1.10): the parameters
// text of an image as the dict its png-info answers with and its "send to txt2img" reads: the
// prompt and negative prompt, each "Key: value" of the last line (quoted values unquoted, WxH
// sizes split into Key-1 and Key-2), and its defaults for what the text leaves out.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace sdxl::server {

nlohmann::json parse_generation_parameters(const std::string& text);

}  // namespace sdxl::server

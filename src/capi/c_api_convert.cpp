// sdxl convert through the C API: a checkpoint between the single-file and folder layouts.
#include <cstring>
#include <filesystem>

#include "capi/c_api_guard.h"
#include "capi/c_api_request.h"
#include "core/error.h"
#include "io/tensor_file.h"
#include "pipeline/sources/lora_source.h"
#include "pipeline/sources/model_convert.h"
#include "sdxl/sdxl.h"

using sdxl::capi::loras_of;

extern "C" {

void sdxl_convert_params_init(sdxl_convert_params* params) {
  if (params) std::memset(params, 0, sizeof *params);
}

sdxl_status sdxl_convert(const sdxl_convert_params* params) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(params && params->input && *params->input && params->output && *params->output, InvalidArgument,
               "[convert] input and output must be given");
    const std::string dtype = params->dtype ? params->dtype : "keep";
    std::optional<sdxl::DType> out;
    if (dtype == "fp32") out = sdxl::DType::F32;
    else if (dtype == "fp16") out = sdxl::DType::F16;
    else if (dtype == "bf16") out = sdxl::DType::BF16;
    else SDXL_CHECK(dtype == "keep", InvalidArgument, "[convert] dtype '", dtype, "' is not one of keep, fp32, fp16, bf16");
    const std::filesystem::path input = params->input, output = params->output;
    std::error_code ec;
    if (std::filesystem::is_regular_file(input, ec) && sdxl::io::is_torch_file_name(input) &&
        output.extension() == ".safetensors") {
      SDXL_CHECK_PARAM(params->lora_count == 0, InvalidArgument, "loras", "[convert] loras: a torch file is converted "
                       "as it is; merge LoRAs when converting a model set (a folder or a single file) instead");
      sdxl::pipeline::write_tensor_file(input, output, out);
      return;
    }
    auto source = sdxl::pipeline::open_model_source(input, params->variant ? params->variant : "",
                                                    params->config_dir ? params->config_dir : "");
    source = sdxl::pipeline::with_loras(source, loras_of(params->loras, params->lora_count, "loras"));
    if (std::filesystem::is_directory(input, ec)) sdxl::pipeline::write_single_file(*source, params->output, out);
    else sdxl::pipeline::write_diffusers_folder(*source, params->output, out);
  });
}

}  // extern "C"

#include "io/t2i_adapter_config.h"

#include "io/json_file.h"

namespace sdxl::io {

T2IAdapterConfig parse_t2i_adapter_config(const nlohmann::json& json, const std::string& origin) {
  JsonFields f(json, origin, "config");
  const std::string class_name = f.string("_class_name", "T2IAdapter");
  if (class_name != "T2IAdapter") f.unsupported("_class_name", class_name, "T2IAdapter");
  const std::string type = f.string("adapter_type", "full_adapter");
  if (type == "full_adapter" || type == "light_adapter")
    f.bad("adapter_type", "is \"" + type + "\": an SD 1.5 T2I-Adapter; SDXL needs an adapter_type \"full_adapter_xl\" one");
  if (type != "full_adapter_xl") f.unsupported("adapter_type", type, "full_adapter_xl");
  T2IAdapterConfig c;
  c.in_channels = f.integer("in_channels", 3);
  if (c.in_channels != 1 && c.in_channels != 3) f.bad("in_channels", "must be 3 (RGB) or 1 (grayscale)");
  c.channels = f.integers("channels", {320, 640, 1280, 1280});
  if (c.channels.size() != 4) f.bad("channels", "must have 4 entries for full_adapter_xl");
  for (int64_t ch : c.channels)
    if (ch <= 0 || ch > 65536) f.bad("channels", "entries must be in [1, 65536]");
  c.num_res_blocks = f.integer("num_res_blocks", 2);
  if (c.num_res_blocks < 1 || c.num_res_blocks > 64) f.bad("num_res_blocks", "must be in [1, 64]");
  c.downscale_factor = f.integer("downscale_factor", 16);
  if (c.downscale_factor < 1 || c.downscale_factor > 64) f.bad("downscale_factor", "must be in [1, 64]");
  return c;
}

}  // namespace sdxl::io

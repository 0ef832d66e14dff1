#include "io/controlnet_config.h"

#include "io/json_file.h"

namespace sdxl::io {

ControlNetConfig parse_controlnet_config(const nlohmann::json& json, const std::string& origin) {
  JsonFields f(json, origin, "config");
  const std::string class_name = f.string("_class_name", "ControlNetModel");
  if (class_name != "ControlNetModel") f.unsupported("_class_name", class_name, "ControlNetModel");
  // The UNet's parser with up blocks that mirror the down blocks (a ControlNet has none).
  nlohmann::json as_unet = json;
  nlohmann::json up = nlohmann::json::array();
  const auto down = f.strings("down_block_types", {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                                   "CrossAttnDownBlock2D", "DownBlock2D"});
  for (auto it = down.rbegin(); it != down.rend(); ++it)
    up.push_back(*it == "CrossAttnDownBlock2D" ? "CrossAttnUpBlock2D" : "UpBlock2D");
  as_unet["up_block_types"] = up;
  for (const char* key : {"conditioning_channels", "conditioning_embedding_out_channels",
                          "controlnet_conditioning_channel_order", "global_pool_conditions", "_class_name"})
    as_unet.erase(key);
  ControlNetConfig c;
  c.unet = parse_unet_config(as_unet, origin);
  if (c.unet.mid_block_type.empty()) f.bad("mid_block_type", "must be UNetMidBlock2DCrossAttn for a ControlNet");
  c.conditioning_channels = f.integer("conditioning_channels", 3);
  if (c.conditioning_channels != 3) f.bad("conditioning_channels", "must be 3 (an RGB control image)");
  c.conditioning_embedding_out_channels = f.integers("conditioning_embedding_out_channels", {16, 32, 96, 256});
  if (c.conditioning_embedding_out_channels.empty() || c.conditioning_embedding_out_channels.size() > 8)
    f.bad("conditioning_embedding_out_channels", "must have 1 to 8 entries");
  for (int64_t channels : c.conditioning_embedding_out_channels)
    if (channels <= 0 || channels > 65536) f.bad("conditioning_embedding_out_channels", "entries must be in [1, 65536]");
  const std::string order = f.string("controlnet_conditioning_channel_order", "rgb");
  if (order != "rgb" && order != "bgr") f.unsupported("controlnet_conditioning_channel_order", order, "rgb, bgr");
  c.bgr = order == "bgr";
  c.global_pool_conditions = f.boolean("global_pool_conditions", false);
  // Pooled residuals (SD 1.5's shuffle ControlNet) are not implemented: refused, not ignored.
  if (c.global_pool_conditions) f.unsupported("global_pool_conditions", "true", "false");
  return c;
}

}  // namespace sdxl::io

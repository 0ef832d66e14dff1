// Upscalers through the C API: an ESRGAN-family model loaded once, run on any number of images.
#include <cstring>
#include <memory>
#include <string>

#include "capi/c_api_guard.h"
#include "capi/c_api_images.h"
#include "core/error.h"
#include "io/image_file.h"
#include "pipeline/sources/upscaler_source.h"
#include "pipeline/stages/upscale.h"
#include "sdxl/sdxl.h"

struct sdxl_upscaler {
  std::shared_ptr<const sdxl::models::RrdbNet> net;
};

extern "C" {

sdxl_status sdxl_upscaler_load(const char* path, const char* precision, sdxl_upscaler** upscaler) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(path && *path && upscaler, InvalidArgument, "[upscaler] path and upscaler must be given");
    *upscaler = nullptr;
    const std::string p = precision ? precision : "fp32";
    SDXL_CHECK_PARAM(p == "fp32" || p == "bf16", InvalidArgument, "precision", "[upscaler] precision '", p,
                     "' is not fp32 or bf16");
    auto loaded = std::make_unique<sdxl_upscaler>();
    loaded->net = sdxl::pipeline::load_upscaler(path, p == "bf16" ? sdxl::ops::Precision::BF16 : sdxl::ops::Precision::F32);
    *upscaler = loaded.release();
  });
}

int sdxl_upscaler_scale(const sdxl_upscaler* upscaler) {
  return upscaler ? static_cast<int>(upscaler->net->config().scale) : 0;
}

void sdxl_upscaler_free(sdxl_upscaler* upscaler) { delete upscaler; }

void sdxl_upscale_params_init(sdxl_upscale_params* params) {
  if (!params) return;
  std::memset(params, 0, sizeof *params);
  params->tile = -1;
  params->tile_overlap = static_cast<int>(sdxl::pipeline::kDefaultTileOverlap);
}

sdxl_status sdxl_upscale(const sdxl_upscaler* upscaler, const sdxl_image* image, const sdxl_upscale_params* params,
                         sdxl_image** upscaled) {
  return sdxl::capi::guarded([&] {
    SDXL_CHECK(upscaler && image && upscaled, InvalidArgument, "[upscale] upscaler, image and upscaled must not be NULL");
    *upscaled = nullptr;
    sdxl_upscale_params defaults;
    sdxl_upscale_params_init(&defaults);
    const sdxl_upscale_params& p = params ? *params : defaults;
    const std::string order = p.channel_order ? p.channel_order : "rgb";
    SDXL_CHECK_PARAM(order == "rgb" || order == "bgr", InvalidArgument, "channel_order", "[upscale] channel_order '", order,
                     "' is not rgb or bgr");
    SDXL_CHECK_PARAM(p.tile >= -1 && p.tile <= 8192, InvalidArgument, "tile", "[upscale] tile ", p.tile,
                     " must be -1 (automatic), 0 (whole) or a side up to 8192");
    SDXL_CHECK_PARAM(p.tile_overlap >= 0 && p.tile_overlap <= 1024, InvalidArgument, "tile_overlap", "[upscale] tile_overlap ",
                     p.tile_overlap, " must be in [0, 1024]");
    sdxl::pipeline::UpscaleOptions options;
    options.channel_order = order == "bgr" ? sdxl::pipeline::ChannelOrder::Bgr : sdxl::pipeline::ChannelOrder::Rgb;
    options.tile = p.tile;
    options.overlap = p.tile_overlap;
    // convert("RGB") first, as AUTOMATIC1111 does (alpha dropped, gray widened).
    const sdxl::io::Image8 in =
        sdxl::io::to_rgb(sdxl::capi::image_of(image->pixels, image->width, image->height, image->channels, "image"));
    const sdxl::io::Image8 out = p.scale == 0 ? sdxl::pipeline::upscale_once(*upscaler->net, in, options)
                                              : sdxl::pipeline::upscale_by(*upscaler->net, in, p.scale, options);
    *upscaled = sdxl::capi::to_c_image(out);
  });
}

}  // extern "C"

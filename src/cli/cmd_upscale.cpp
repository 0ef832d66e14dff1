// `sdxl upscale`: an ESRGAN-family upscaler (Real-ESRGAN, 4x-UltraSharp, ...) on one image, what
// AUTOMATIC1111's extras tab does with its upscaler_1.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "sdxl/sdxl.hpp"

namespace sdxl::cli {

namespace {
struct UpscaleOptions {
  std::string model, input, output, channel_order = "rgb", precision = "fp32";
  double scale = 0;
  int tile = -1, tile_overlap = 8;
};
}  // namespace

Command add_upscale_command(CLI::App& app) {
  auto o = std::make_shared<UpscaleOptions>();
  CLI::App* cmd = app.add_subcommand(
      "upscale",
      "Upscale an image with an ESRGAN-family model (RRDBNet: Real-ESRGAN x4plus/x2plus, 4x-UltraSharp and\n"
      "other old-layout ESRGANs; .pth, .pt or .safetensors, read without running any code). Without --scale\n"
      "the image grows by the model's own factor; with it, as AUTOMATIC1111's upscalers: to\n"
      "int(side * scale) // 8 * 8, by up to three passes and a Lanczos resize. Large images run in\n"
      "overlapping tiles whose seams are averaged, so memory stays bounded.");
  cmd->add_option("-m,--model", o->model, "The upscaler model file")->required();
  cmd->add_option("image", o->input, "The input image (PNG, JPEG, WebP)")->required();
  cmd->add_option("-o,--output", o->output, "Where to write the result (PNG)")->required();
  cmd->add_option("--scale", o->scale, "The factor (default: the model's own, one pass)")->check(CLI::Range(0.0, 16.0));
  cmd->add_option("--tile", o->tile,
                  "Tile side in input pixels: 0 = the whole image at once; default: whole when it fits in memory, "
                  "else 192 (AUTOMATIC1111's ESRGAN_tile)")
      ->check(CLI::Range(0, 8192));
  cmd->add_option("--tile-overlap", o->tile_overlap, "Pixels neighbouring tiles share (averaged)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  cmd->add_option("--channel-order", o->channel_order,
                  "rgb: what Real-ESRGAN's models were trained on and its own inference uses; bgr: AUTOMATIC1111's "
                  "convention (the channels reversed in and out), to get its images")
      ->check(CLI::IsMember({"rgb", "bgr"}))
      ->capture_default_str();
  cmd->add_option("--precision", o->precision, "fp32, or bf16 (about twice as fast on CPUs with AVX512-BF16)")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    sdxl_image* input = nullptr;
    api::check(sdxl_read_image(o->input.c_str(), &input));
    std::unique_ptr<sdxl_image, void (*)(sdxl_image*)> in(input, sdxl_image_free);
    sdxl_upscaler* loaded = nullptr;
    api::check(sdxl_upscaler_load(o->model.c_str(), o->precision.c_str(), &loaded));
    std::unique_ptr<sdxl_upscaler, void (*)(sdxl_upscaler*)> upscaler(loaded, sdxl_upscaler_free);
    sdxl_upscale_params params;
    sdxl_upscale_params_init(&params);
    params.scale = o->scale;
    params.tile = o->tile;
    params.tile_overlap = o->tile_overlap;
    params.channel_order = o->channel_order.c_str();
    sdxl_image* result = nullptr;
    try {
      api::check(sdxl_upscale(upscaler.get(), in.get(), &params, &result));
    } catch (const api::Failure& e) {
      if (e.status() == SDXL_STATUS_INVALID_ARGUMENT) throw CLI::ValidationError(e.what());
      throw;
    }
    std::unique_ptr<sdxl_image, void (*)(sdxl_image*)> out(result, sdxl_image_free);
    api::check(sdxl_write_image_png(o->output.c_str(), out->pixels, out->width, out->height, out->channels));
    std::printf("%s\n", o->output.c_str());
    return 0;
  };
}

}  // namespace sdxl::cli

// `sdxl preprocess`: a ControlNet preprocessor on its own, writing the control map it makes (what
// the ControlNet extension's "preview" shows and its /controlnet/detect answers).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/control_args.h"
#include "sdxl/sdxl.hpp"

namespace sdxl::cli {

namespace {
struct PreprocessOptions {
  std::string preprocessor, input, output, thresholds;
  int resolution = 0;
};
}  // namespace

Command add_preprocess_command(CLI::App& app) {
  auto o = std::make_shared<PreprocessOptions>();
  CLI::App* cmd = app.add_subcommand(
      "preprocess", "Run a ControlNet preprocessor as AUTOMATIC1111's ControlNet extension does and write its map: canny\n"
                    "(OpenCV's Canny after the extension's resize and padding) or none (the image as RGB).");
  cmd->add_option("preprocessor", o->preprocessor, "canny or none")->required()->check(CLI::IsMember({"canny", "none"}));
  cmd->add_option("image", o->input, "The input image (PNG, JPEG, WebP)")->required();
  cmd->add_option("-o,--output", o->output, "Where to write the map (PNG)")->required();
  cmd->add_option("--canny-thresholds", o->thresholds, "LOW,HIGH (default 100,200)");
  cmd->add_option("--resolution", o->resolution, "The working resolution, the short side (default: the image's own)")
      ->check(CLI::Range(0, 8192));
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    std::pair<double, double> thresholds{100, 200};
    if (!o->thresholds.empty()) thresholds = parse_thresholds(o->thresholds, "--canny-thresholds");
    sdxl_image* input = nullptr;
    api::check(sdxl_read_image(o->input.c_str(), &input));
    std::unique_ptr<sdxl_image, void (*)(sdxl_image*)> in(input, sdxl_image_free);
    sdxl_image* map = nullptr;
    api::check(sdxl_control_preprocess(in.get(), o->preprocessor.c_str(), thresholds.first, thresholds.second, o->resolution,
                                       &map));
    std::unique_ptr<sdxl_image, void (*)(sdxl_image*)> out(map, sdxl_image_free);
    api::check(sdxl_write_image_png(o->output.c_str(), out->pixels, out->width, out->height, out->channels));
    std::printf("%s\n", o->output.c_str());
    return 0;
  };
}

}  // namespace sdxl::cli

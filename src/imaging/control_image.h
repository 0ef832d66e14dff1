// Control images as AUTOMATIC1111's ControlNet extension (Mikubill/sd-webui-controlnet) makes them:
// the input to RGB, a preprocessor at a working resolution (canny: OpenCV's Canny after the
// extension's resize-and-pad to multiples of 64), and the map fitted to the output by one of its
// resize modes with its "high quality" resize (nearest for few-colour maps, thin binary edges kept
// one pixel wide by its non-maximum suppression, Otsu threshold and thinning). All OpenCV's
// arithmetic, as the extension calls it.
#pragma once

#include <cstdint>
#include <string>

#include "io/png.h"

namespace sdxl::imaging {

enum class ControlResizeMode {
  JustResize,     // "Just Resize": stretched to the output
  CropAndResize,  // "Crop and Resize": scaled to cover the output, centre cropped
  ResizeAndFill,  // "Resize and Fill": scaled to fit inside, the rest the border's median colour
};
// The extension's names and numbers: "Just Resize" / 0, "Crop and Resize" / 1 (also "Inner Fit
// (Scale to Fit)"), "Resize and Fill" / 2 ("Outer Fit (Shrink to Fit)"), and the CLI's just,
// crop, fill. Throws InvalidArgument naming the choices.
ControlResizeMode parse_control_resize_mode(const std::string& name);
const char* control_resize_mode_name(ControlResizeMode mode);

// The extension's input: RGB as it is; gray repeated; RGBA whose alpha is (nearly) all opaque or
// all transparent as its RGB, else its alpha as a gray scribble.
io::Image8 control_input_rgb(const io::Image8& image);

// annotator.util.HWC3: gray repeated, RGBA composited over white.
io::Image8 hwc3(const io::Image8& image);

// The extension's pixel-perfect working resolution for an input going to width x height.
int64_t pixel_perfect_resolution(const io::Image8& image, int64_t width, int64_t height, ControlResizeMode mode);

// PreprocessorCanny: RGB -> resize the short side to `resolution` (INTER_CUBIC up, INTER_AREA
// down), pad bottom/right to multiples of 64 by replication, cv::Canny(low, high) (aperture 3, L1),
// crop the padding, gray to RGB. Thresholds are truncated to integers, as int() does.
io::Image8 canny_map(const io::Image8& rgb, int64_t resolution, double low, double high);

// Script.detectmap_proc for image maps: the map fitted to width x height by `mode`.
io::Image8 fit_control_map(const io::Image8& map, ControlResizeMode mode, int64_t width, int64_t height);

}  // namespace sdxl::imaging

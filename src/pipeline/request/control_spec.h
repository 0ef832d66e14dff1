// A ControlNet unit as a front end asks for it: which model, the control image as the user gave it,
// how to preprocess and fit it to the output (the AUTOMATIC1111 ControlNet extension's steps), and
// how strongly and when it steers. The engine turns it into a ControlUnit (the model loaded, the
// image made) when it runs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "imaging/control_image.h"
#include "io/png.h"

namespace sdxl::pipeline {

// The extension's control_mode: how the residuals meet classifier-free guidance.
enum class ControlMode {
  Balanced,        // every residual at the weight, both halves of the batch
  PromptMore,      // "My prompt is more important": residual i at 0.825^(12 - i) x the weight
  ControlNetMore,  // "ControlNet is more important": the same, and the negatives get none
};
ControlMode parse_control_mode(const std::string& name);  // its names and 0, 1, 2
const char* control_mode_name(ControlMode mode);

// What the unit's model must be: Any takes what the file is (the extension's units name a model,
// the file says whether it is a ControlNet or a T2I-Adapter).
enum class ControlKind { Any, ControlNet, T2IAdapter };

struct ControlSpec {
  std::filesystem::path model;   // a diffusers ControlNet or T2I-Adapter folder, or a .safetensors file
  ControlKind kind = ControlKind::Any;
  std::filesystem::path config;  // optional: the architecture of a single file (folder or config.json)
  std::string name;              // how the PNG text names it ("" -> the file's stem and hash)
  io::Image8 image;              // the control image as given
  std::string preprocessor = "none";  // "none" (the image is the map) or "canny"
  double threshold_a = 100, threshold_b = 200;  // canny's low and high
  int64_t resolution = 0;        // the preprocessor's working resolution; 0: pixel perfect
  imaging::ControlResizeMode resize_mode = imaging::ControlResizeMode::CropAndResize;
  // A T2I-Adapter's scale is adapter_conditioning_scale and its end adapter_conditioning_factor
  // (under diffusers' window it acts while step i < int(steps * end)).
  double scale = 1.0, start = 0.0, end = 1.0;
  ControlMode mode = ControlMode::Balanced;
  bool a1111_window = false;     // the extension's step window (start <= i/n <= end), else diffusers'
};

inline constexpr size_t kMaxControlUnits = 8;

// An IP-Adapter as a front end asks for it: the adapter file, its CLIP image encoder, the image.
struct IpAdapterSpec {
  std::filesystem::path model;          // an IP-Adapter .safetensors (h94/IP-Adapter's layout)
  std::filesystem::path image_encoder;  // a transformers folder or one .safetensors file
  std::string name;                     // how the PNG text names it ("" -> the file's stem and hash)
  io::Image8 image;
  double scale = 1.0;                   // set_ip_adapter_scale / the extension's weight
  double start = 0.0, end = 1.0;        // the extension's guidance window (diffusers: all steps)
};
// The files, image and numbers, before anything loads; errors name "ip_adapter.<field>".
void check_ip_adapter_spec(const IpAdapterSpec& spec, bool model_is_refiner);

// What can be checked before anything loads: the count, each unit's model file, image, numbers and
// preprocessor, and that the main model is not a refiner (its ControlNets do not exist). Errors
// name the unit and the field ("controlnets[1].end").
void check_control_specs(const std::vector<ControlSpec>& specs, bool model_is_refiner);

// Preprocessors: those sdxl runs, and the extension's that need networks of their own.
bool is_available_preprocessor(const std::string& name);
const std::vector<std::string>& available_preprocessors();
// The control map of `spec`'s image (preprocessed at its resolution, not yet fitted): what the
// extension's /controlnet/detect returns.
io::Image8 detect_control_map(const ControlSpec& spec, int64_t width, int64_t height);
// The map fitted to width x height by the spec's resize mode.
io::Image8 control_map(const ControlSpec& spec, int64_t width, int64_t height);

}  // namespace sdxl::pipeline

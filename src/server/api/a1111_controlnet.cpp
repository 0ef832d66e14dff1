#include "server/api/a1111_controlnet.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>

#include "server/http/request_fields.h"
#include "server/jobs/job_request.h"

namespace sdxl::server {
namespace {

using nlohmann::json;

// A unit's fields, their errors naming "alwayson_scripts.controlnet.args[i].field".
class UnitFields {
 public:
  UnitFields(const json& unit, std::string prefix) : unit_(unit), prefix_(std::move(prefix)) {}
  bool has(const char* key) const { return unit_.contains(key) && !unit_.at(key).is_null(); }
  const json& at(const char* key) const { return unit_.at(key); }
  [[noreturn]] void bad(const char* key, const std::string& why) const {
    const std::string field = prefix_ + "." + key;
    throw RequestError(422, field, field + ": " + why);
  }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const json& v = at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>())) bad(key, "must be a number");
    return v.get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_boolean()) bad(key, "must be true or false");
    return at(key).get<bool>();
  }
  std::string text(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!at(key).is_string()) bad(key, "must be a string");
    return at(key).get<std::string>();
  }
  std::string field(const char* key) const { return prefix_ + "." + key; }

 private:
  const json& unit_;
  std::string prefix_;
};

// The extension's sliders of a module: resolution, then threshold A and B (min, max, default).
struct Slider {
  double min, max, value;
};
struct ModuleSliders {
  Slider resolution, a, b;
};
ModuleSliders sliders_of(const std::string& module) {
  const Slider resolution{64, 2048, 512};
  if (module == "canny") return {resolution, {1, 255, 100}, {1, 255, 200}};
  return {resolution, {0, 1, 0.5}, {0, 1, 0.5}};  // PreprocessorParameter's defaults (hidden sliders)
}

// Decoded pixels as an InputImage (for an image composed here).
api::Image decoded_image(std::vector<unsigned char> pixels, int width, int height, int channels) {
  auto held = std::make_shared<std::vector<unsigned char>>(std::move(pixels));
  auto* raw = new sdxl_image{width, height, channels, held->data()};
  auto out = std::make_shared<api::InputImage>();
  out->decoded = api::ImageHandle(raw, [held](const sdxl_image* image) { delete image; });
  out->width = width;
  out->height = height;
  return out;
}

// image (or input_image), with mask (or mask_image): a base64 image, {"image", "mask"} or
// [image, mask]. With a mask the extension works on RGBA, the mask its alpha.
api::Image unit_image(const UnitFields& u, const api::Generation& g) {
  if (u.has("image") && u.has("input_image")) u.bad("input_image", "conflicts with image (its alias): give one");
  const char* key = u.has("image") ? "image" : "input_image";
  if (u.has("mask") && u.has("mask_image")) u.bad("mask_image", "conflicts with mask (its alias): give one");
  const char* mask_key = u.has("mask") ? "mask" : "mask_image";
  if (!u.has(key) || (u.at(key).is_string() && u.at(key).get<std::string>().empty())) return nullptr;
  const json& value = u.at(key);
  json image = value, mask = u.has(mask_key) ? u.at(mask_key) : json();
  if (value.is_object()) {
    image = value.contains("image") ? value["image"] : json();
    if (value.contains("mask")) mask = value["mask"];
  } else if (value.is_array()) {
    if (value.size() != 2) u.bad(key, "a list must be [image, mask]");
    image = value[0];
    mask = value[1];
  }
  if (!image.is_string()) u.bad(key, "must be a base64 image (file paths are not read)");
  const long long max_pixels = api::max_input_pixels(g);
  api::Image picture = upload_of(image.get<std::string>(), u.field(key), max_pixels);
  if (mask.is_null() || (mask.is_string() && mask.get<std::string>().empty())) return picture;
  if (!mask.is_string()) u.bad(mask_key, "must be a base64 image");
  const api::Image mask_picture = upload_of(mask.get<std::string>(), u.field(mask_key), max_pixels);
  if (mask_picture->width != picture->width || mask_picture->height != picture->height)
    u.bad(mask_key, "is " + std::to_string(mask_picture->width) + "x" + std::to_string(mask_picture->height) +
                        ", the image " + std::to_string(picture->width) + "x" + std::to_string(picture->height));
  const api::ImageHandle rgb = picture->pixels(max_pixels), m = mask_picture->pixels(max_pixels);
  const size_t n = static_cast<size_t>(rgb->width) * static_cast<size_t>(rgb->height);
  std::vector<unsigned char> rgba(n * 4);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char* p = rgb->pixels + i * static_cast<size_t>(rgb->channels);
    for (int c = 0; c < 3; ++c) rgba[4 * i + static_cast<size_t>(c)] = rgb->channels >= 3 ? p[c] : p[0];
    rgba[4 * i + 3] = m->pixels[i * static_cast<size_t>(m->channels)];
  }
  return decoded_image(std::move(rgba), rgb->width, rgb->height, 4);
}

std::string resize_mode_of(const UnitFields& u) {
  if (!u.has("resize_mode")) return "Crop and Resize";  // INNER_FIT
  const json& v = u.at("resize_mode");
  if (v.is_number_integer()) {
    const int64_t k = v.get<int64_t>();
    if (k < 0 || k > 2) u.bad("resize_mode", "must be 0, 1 or 2");
    static const char* const names[] = {"Just Resize", "Crop and Resize", "Resize and Fill"};
    return names[k];
  }
  if (!v.is_string()) u.bad("resize_mode", "must be a resize mode's name or number");
  const std::string name = v.get<std::string>();
  static const std::set<std::string> known{"Just Resize", "Crop and Resize", "Resize and Fill", "Inner Fit (Scale to Fit)",
                                           "Outer Fit (Shrink to Fit)", "Scale to Fit (Inner Fit)", "Envelope (Outer Fit)"};
  if (!known.count(name)) u.bad("resize_mode", "'" + name + "' is not Just Resize, Crop and Resize or Resize and Fill");
  if (name == "Scale to Fit (Inner Fit)") return "Crop and Resize";
  if (name == "Envelope (Outer Fit)") return "Resize and Fill";
  return name;
}

std::string control_mode_of(const UnitFields& u) {
  static const char* const names[] = {"Balanced", "My prompt is more important", "ControlNet is more important"};
  if (!u.has("control_mode")) return names[0];
  const json& v = u.at("control_mode");
  if (v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= 2) return names[v.get<int64_t>()];
  if (v.is_string())
    for (const char* n : names)
      if (v.get<std::string>() == n) return n;
  u.bad("control_mode", "must be Balanced, My prompt is more important or ControlNet is more important (0, 1, 2)");
}

// The CLIP image encoder an IP-Adapter module runs (the extension's clip_g / clip_h), or "" for a
// module that is not an IP-Adapter one sdxl runs. ip-adapter-auto follows its model presets:
// the ViT-H files (vit-h, plus_composition) take clip_h, the other SDXL ones clip_g.
std::string image_encoder_of(const std::string& module, const std::string& model) {
  if (module == "ip-adapter_clip_sdxl" || module == "ip-adapter_clip_g") return "clip_g";
  if (module == "ip-adapter_clip_sdxl_plus_vith" || module == "ip-adapter_clip_h" || module == "ip-adapter_clip_sd15")
    return "clip_h";
  if (module == "ip-adapter-auto") {
    const std::string m = ascii_lowercase(model);
    return m.find("vit-h") != std::string::npos || m.find("composition") != std::string::npos ? "clip_h" : "clip_g";
  }
  return "";
}

// An IP-Adapter unit: the model from --controlnet-dir (as the extension keeps them), the encoder
// its module names from --image-encoder-dir, the unit's image as the image prompt.
api::IpAdapter ip_adapter_unit(const UnitFields& u, const std::string& module, const NameLookup& names, const api::Generation& g) {
  const std::string model = u.text("model", "None");
  if (model.empty() || model == "None") u.bad("model", "an IP-Adapter model is required");
  const auto file = names.controlnet ? names.controlnet(model) : std::nullopt;
  if (!file) u.bad("model", "no model named '" + model + "' (see /controlnet/model_list)");
  const std::string encoder_name = image_encoder_of(module, model);
  const auto encoder = names.image_encoder ? names.image_encoder(encoder_name) : std::nullopt;
  if (!encoder)
    u.bad("module", "'" + module + "' needs the image encoder " + encoder_name +
                        " in the server's --image-encoder-dir (a transformers folder or .safetensors named " + encoder_name + ")");
  api::IpAdapter a;
  a.model = *file;
  a.image_encoder = *encoder;
  a.name = names.controlnet_name ? names.controlnet_name(*file) : model;
  a.scale = u.number("weight", 1.0);
  if (a.scale < 0 || a.scale > 2) u.bad("weight", "must be in [0, 2]");
  a.start = u.number("guidance_start", 0.0);
  a.end = u.number("guidance_end", u.number("guidance", 1.0));
  if (a.start < 0 || a.start > 1) u.bad("guidance_start", "must be in [0, 1]");
  if (a.end < 0 || a.end > 1) u.bad("guidance_end", "must be in [0, 1]");
  if (a.start > a.end) u.bad("guidance_start", "is after guidance_end");
  if (u.has("mask") || u.has("mask_image")) u.bad(u.has("mask") ? "mask" : "mask_image", "IP-Adapter masks are not supported by sdxl");
  a.image = unit_image(u, g);
  if (!a.image) {
    if (!g.image) u.bad("image", "the unit has no image (the image prompt)");
    a.image = g.image;  // as ControlNet units, an img2img unit without an image takes the init image
  }
  return a;
}

}  // namespace

bool is_controlnet_script(const std::string& key) { return ascii_lowercase(key) == "controlnet"; }

bool is_extension_module(const std::string& name) {
  // The extension's preprocessors that need networks sdxl does not have (a representative list:
  // any other name is unknown to it too).
  static const std::set<std::string> modules{
      "depth_midas", "depth_leres", "depth_leres++", "depth_zoe", "depth_anything", "depth_anything_v2", "depth_hand_refiner",
      "openpose", "openpose_face", "openpose_faceonly", "openpose_full", "openpose_hand", "dw_openpose_full",
      "animal_openpose", "lineart_realistic", "lineart_coarse", "lineart_standard", "lineart_anime", "lineart_anime_denoise",
      "mlsd", "normal_bae", "normal_dsine", "normal_midas", "scribble_hed", "scribble_pidinet", "scribble_xdog", "softedge_hed",
      "softedge_hedsafe", "softedge_pidinet", "softedge_pidisafe", "softedge_teed", "softedge_anyline", "seg_ofade20k",
      "seg_ofcoco", "seg_ufade20k", "seg_anime_face", "shuffle", "tile_resample", "tile_colorfix", "tile_colorfix+sharp",
      "blur_gaussian", "inpaint", "inpaint_only", "inpaint_only+lama", "reference_only", "reference_adain",
      "reference_adain+attn", "recolor_luminance", "recolor_intensity", "threshold", "invert", "mediapipe_face",
      "t2ia_color_grid", "t2ia_sketch_pidi", "t2ia_style_clipvision", "ip-adapter_clip_sd15", "ip-adapter_clip_sdxl",
      "ip-adapter_clip_sdxl_plus_vith", "ip-adapter_face_id", "ip-adapter_face_id_plus", "ip-adapter-auto", "instant_id_face_embedding",
      "instant_id_face_keypoints", "revision_clipvision", "revision_ignore_prompt", "clip_vision", "densepose", "densepose_parula",
      "segment", "te_hed", "pidinet", "hed", "lineart", "fake_scribble"};
  return modules.count(name) > 0;
}

void apply_a1111_controlnet(const json& body, bool img2img, const NameLookup& names, api::Generation& g) {
  const json& scripts = body.contains("alwayson_scripts") ? body["alwayson_scripts"] : json();
  if (!scripts.is_object()) return;
  const json* script = nullptr;
  std::string script_key;
  for (auto it = scripts.begin(); it != scripts.end(); ++it)
    if (is_controlnet_script(it.key())) {
      script = &it.value();
      script_key = it.key();
    }
  if (!script) return;
  const std::string base = "alwayson_scripts." + script_key + ".args";
  if (!script->is_object() || !script->contains("args") || !(*script)["args"].is_array())
    throw RequestError(422, base, base + ": must be a list of ControlNet units");
  const json& args = (*script)["args"];
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string prefix = base + "[" + std::to_string(i) + "]";
    if (!args[i].is_object()) throw RequestError(422, prefix, prefix + ": a unit must be an object");
    const UnitFields u(args[i], prefix);
    if (!u.boolean("enabled", false)) continue;  // the extension's default: a unit must say it is enabled
    for (const char* unsupported : {"advanced_weighting", "effective_region_mask", "ipadapter_input", "batch_images",
                                    "batch_image_files", "animatediff_batch"})
      if (u.has(unsupported)) u.bad(unsupported, "is not supported by sdxl");
    const std::string input_mode = u.text("input_mode", "simple");
    if (ascii_lowercase(input_mode) != "simple") u.bad("input_mode", "only single images (simple) are supported by sdxl");
    api::ControlNet c;
    std::string module = u.text("module", "none");
    if (module == "None") module = "none";
    if (!image_encoder_of(module, u.text("model", "")).empty()) {
      if (g.ip_adapter) u.bad("module", "a second IP-Adapter unit: sdxl runs one IP-Adapter at a time");
      g.ip_adapter = ip_adapter_unit(u, module, names, g);
      continue;
    }
    if (module != "none" && module != "canny") {
      if (is_extension_module(module))
        u.bad("module", "'" + module + "' needs a network of its own that sdxl does not have (it runs none and canny)");
      u.bad("module", "'" + module + "' is not a ControlNet preprocessor (sdxl runs none and canny)");
    }
    c.preprocessor = module;
    const std::string model = u.text("model", "None");
    if (model.empty() || model == "None") u.bad("model", "a ControlNet model is required");
    const auto file = names.controlnet ? names.controlnet(model) : std::nullopt;
    if (!file) u.bad("model", "no ControlNet named '" + model + "' (see /controlnet/model_list)");
    c.model = *file;
    c.name = names.controlnet_name ? names.controlnet_name(*file) : model;
    c.scale = u.number("weight", 1.0);
    if (c.scale < 0 || c.scale > 2) u.bad("weight", "must be in [0, 2]");
    c.resize_mode = resize_mode_of(u);
    const ModuleSliders sliders = sliders_of(module);
    const auto in_slider = [](double v, const Slider& s) { return v >= s.min && v <= s.max ? v : s.value; };
    const double res = u.number("processor_res", -1);
    c.threshold_a = in_slider(u.number("threshold_a", -1), sliders.a);
    c.threshold_b = in_slider(u.number("threshold_b", -1), sliders.b);
    c.resolution = static_cast<int>(in_slider(res, sliders.resolution));
    if (u.boolean("pixel_perfect", false)) c.resolution = 0;
    c.start = u.number("guidance_start", 0.0);
    if (u.has("guidance") && u.has("guidance_end") && u.number("guidance", 1.0) != u.number("guidance_end", 1.0))
      u.bad("guidance", "conflicts with guidance_end (its alias)");
    c.end = u.number("guidance_end", u.number("guidance", 1.0));
    if (c.start < 0 || c.start > 1) u.bad("guidance_start", "must be in [0, 1]");
    if (c.end < 0 || c.end > 1) u.bad("guidance_end", "must be in [0, 1]");
    if (c.start > c.end) u.bad("guidance_start", "is after guidance_end");
    c.control_mode = control_mode_of(u);
    c.a1111_window = true;
    (void)u.text("hr_option", "Both");  // the hires fix's choice: sdxl has no hires fix (enable_hr is refused)
    c.image = unit_image(u, g);
    if (!c.image) {
      if (!img2img || !g.image) u.bad("image", "the unit has no image (txt2img units need one)");
      c.image = g.image;  // the extension takes the init image, fitted as img2img's resize_mode 0 does
      c.resize_mode = "Just Resize";
    }
    g.controlnets.push_back(std::move(c));
  }
  if (g.controlnets.size() > 8)
    throw RequestError(422, base, base + ": " + std::to_string(g.controlnets.size()) + " enabled units; at most 8");
}

}  // namespace sdxl::server

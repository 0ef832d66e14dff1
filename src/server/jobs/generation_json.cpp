#include "server/jobs/generation_json.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <map>
#include <set>

#include "server/http/base64.h"
#include "server/jobs/job_request.h"
#include "server/http/request_fields.h"

namespace sdxl::server {

using nlohmann::json;

namespace {

// A prompt list, written as a list, read from a string or a list of strings.
struct Texts {
  std::vector<std::string>& value;
};
// A seed: absent or -1 reads as a random one (AUTOMATIC1111's and the web page's "random").
struct Seed {
  uint64_t& value;
};
// An input image: base64 PNG or JPEG bytes.
struct Upload {
  api::Image& value;
};
// ControlNet units: [{model, image, controlnet_conditioning_scale, control_guidance_start, ...}].
struct ControlNets {
  std::vector<api::ControlNet>& value;
};
// An IP-Adapter: {model, image_encoder, image, scale, start, end, name}.
struct ImagePrompt {
  std::optional<api::IpAdapter>& value;
};
// AUTOMATIC1111's hires fix: {scale | resize, upscaler, steps, denoising_strength, sampler, ...}.
struct HiresFix {
  std::optional<api::Hires>& value;
};
// diffusers' (height, width) tuples, and (top, left).
struct HeightWidth {
  api::SizeWH& value;
};

// The one field list: `visit(json key, library parameter, value)` for each field of the form.
// Sizes come before the images: an upload's pixel bound depends on the size asked for.
template <typename Generation, typename Visitor>
void visit_fields(Generation& g, Visitor& visit) {
  visit("prompt", "prompts", Texts{g.prompts});
  visit("negative_prompt", "negative_prompts", Texts{g.negative_prompts});
  visit("prompt_2", "prompt_2", g.prompt_2);
  visit("negative_prompt_2", "negative_prompt_2", g.negative_prompt_2);
  visit("prompt_syntax", "prompt_syntax", g.prompt_syntax);
  visit("width", "width", g.width);
  visit("height", "height", g.height);
  visit("num_inference_steps", "steps", g.steps);
  visit("guidance_scale", "guidance_scale", g.guidance_scale);
  visit("guidance_rescale", "guidance_rescale", g.guidance_rescale);
  visit("clip_skip", "clip_skip", g.clip_skip);
  visit("sampler", "sampler", g.sampler);
  visit("scheduler", "scheduler", g.scheduler);
  visit("timestep_spacing", "timestep_spacing", g.timestep_spacing);
  visit("seed", "seed", Seed{g.seed});
  visit("shared_generator", "shared_generator", g.shared_generator);
  visit("subseed", "subseed", Seed{g.subseed});
  visit("subseed_strength", "subseed_strength", g.subseed_strength);
  visit("seed_resize_from", "seed_resize_from_width", HeightWidth{g.seed_resize_from});
  visit("num_images_per_prompt", "images_per_prompt", g.images_per_prompt);
  visit("original_size", "original_width", HeightWidth{g.original_size});
  visit("target_size", "target_width", HeightWidth{g.target_size});
  visit("negative_original_size", "negative_original_width", HeightWidth{g.negative_original_size});
  visit("negative_target_size", "negative_target_width", HeightWidth{g.negative_target_size});
  visit("crops_coords_top_left", "crop_top", g.crops_coords_top_left);
  visit("negative_crops_coords_top_left", "negative_crop_top", g.negative_crops_coords_top_left);
  visit("image", "init_image", Upload{g.image});
  visit("mask_image", "mask", Upload{g.mask_image});
  visit("strength", "strength", g.strength);
  visit("mask_invert", "mask_invert", g.mask_invert);
  visit("mask_blur_x", "mask_blur_x", g.mask_blur_x);
  visit("mask_blur_y", "mask_blur_y", g.mask_blur_y);
  visit("inpaint_only_masked", "inpaint_only_masked", g.inpaint_only_masked);
  visit("inpaint_padding", "inpaint_padding", g.inpaint_padding);
  visit("inpaint_fill", "inpaint_fill", g.inpaint_fill);
  visit("initial_noise_multiplier", "initial_noise_multiplier", g.initial_noise_multiplier);
  visit("inpaint_overlay", "inpaint_overlay", g.inpaint_overlay);
  visit("refiner_mode", "refiner_mode", g.refiner_mode);
  visit("high_noise_frac", "high_noise_frac", g.high_noise_frac);
  visit("refiner_strength", "refiner_strength", g.refiner_strength);
  visit("refiner_seed", "refiner_seed", g.refiner_seed);
  visit("aesthetic_score", "aesthetic_score", g.aesthetic_score);
  visit("negative_aesthetic_score", "negative_aesthetic_score", g.negative_aesthetic_score);
  visit("vae_tiling", "vae_tiling", g.vae_tiling);
  visit("preview_every", "preview_every", g.preview_every);
  visit("loras", "loras", g.loras);
  visit("refiner_loras", "refiner_loras", g.refiner_loras);
  visit("eta", "eta", g.eta);
  visit("ancestral_eta", "ancestral_eta", g.ancestral_eta);
  visit("controlnets", "controlnets", ControlNets{g.controlnets});
  visit("guess_mode", "guess_mode", g.guess_mode);
  visit("ip_adapter", "ip_adapter", ImagePrompt{g.ip_adapter});
  visit("hires", "hires", HiresFix{g.hires});
}

bool is_builtin_upscaler(const std::string& name) {
  static const std::set<std::string> names = {"Latent",           "Latent (antialiased)",   "Latent (bicubic)",
                                              "Latent (bicubic antialiased)", "Latent (nearest)", "Latent (nearest-exact)",
                                              "Lanczos",          "Nearest",                "None", ""};
  return names.count(name) > 0;
}

class Writer {
 public:
  Writer(json& out, const FileNaming& loras) : out_(out), loras_(loras) {}
  void operator()(const char* key, const char*, Texts t) { out_[key] = t.value; }
  void operator()(const char* key, const char*, Seed s) { out_[key] = s.value; }
  void operator()(const char* key, const char*, Upload u) {
    if (u.value) out_[key] = base64_encode(u.value->encoded);  // compressed, as it came: decoded where it runs
  }
  void operator()(const char* key, const char*, HeightWidth s) {
    if (s.value.width || s.value.height) out_[key] = {s.value.height, s.value.width};
  }
  void operator()(const char* key, const char*, const api::TopLeft& c) { out_[key] = {c.top, c.left}; }
  void operator()(const char* key, const char*, const std::optional<std::string>& v) {
    if (v) out_[key] = *v;
  }
  void operator()(const char* key, const char*, const std::optional<uint64_t>& v) {
    if (v) out_[key] = *v;
  }
  void operator()(const char* key, const char*, const std::vector<api::Lora>& list) {
    json entries = json::array();
    for (const auto& l : list) entries.push_back({{"name", loras_.name_of(l.path)}, {"weight", l.weight}});
    out_[key] = entries;
  }
  void operator()(const char* key, const char*, ControlNets units) {
    if (units.value.empty()) return;
    if (!loras_.controlnet_name_of)
      throw RequestError(422, "controlnets", "controlnets: ControlNets cannot be named here");
    json entries = json::array();
    for (const auto& c : units.value) {
      if (!c.image || c.image->encoded.empty())
        throw RequestError(422, "controlnets", "controlnets: a unit's image must be an upload to be passed on");
      entries.push_back({{"model", loras_.controlnet_name_of(c.model)},
                         {"image", base64_encode(c.image->encoded)},
                         {"preprocessor", c.preprocessor},
                         {"threshold_a", c.threshold_a},
                         {"threshold_b", c.threshold_b},
                         {"resolution", c.resolution},
                         {"resize_mode", c.resize_mode},
                         {"controlnet_conditioning_scale", c.scale},
                         {"control_guidance_start", c.start},
                         {"control_guidance_end", c.end},
                         {"control_mode", c.control_mode},
                         {"a1111_window", c.a1111_window},
                         {"kind", c.kind}});
      if (!c.name.empty()) entries.back()["name"] = c.name;
    }
    out_[key] = entries;
  }
  void operator()(const char* key, const char*, ImagePrompt ip) {
    if (!ip.value) return;
    const api::IpAdapter& a = *ip.value;
    if (!loras_.controlnet_name_of || !loras_.image_encoder_name_of)
      throw RequestError(422, key, std::string(key) + ": IP-Adapters cannot be named here");
    if (!a.image || a.image->encoded.empty())
      throw RequestError(422, key, std::string(key) + ": the image must be an upload to be passed on");
    json entry = {{"model", loras_.controlnet_name_of(a.model)}, {"image_encoder", loras_.image_encoder_name_of(a.image_encoder)},
                  {"image", base64_encode(a.image->encoded)},    {"scale", a.scale},
                  {"start", a.start},                            {"end", a.end}};
    if (!a.name.empty()) entry["name"] = a.name;
    out_[key] = entry;
  }
  void operator()(const char* key, const char*, HiresFix hf) {
    if (!hf.value) return;
    const api::Hires& h = *hf.value;
    json entry = {{"scale", h.scale},       {"resize", {h.resize_width, h.resize_height}}, {"upscaler", h.upscaler},
                  {"steps", h.steps},       {"denoising_strength", h.denoising_strength},
                  {"sampler", h.sampler},   {"scheduler", h.scheduler}};
    if (!h.upscaler_model.empty()) {
      if (!loras_.upscaler_name_of) throw RequestError(422, key, std::string(key) + ": upscaler models cannot be named here");
      entry["upscaler_model"] = loras_.upscaler_name_of(h.upscaler_model);
    }
    if (h.prompt) entry["prompt"] = *h.prompt;
    if (h.negative_prompt) entry["negative_prompt"] = *h.negative_prompt;
    if (h.guidance_scale) entry["guidance_scale"] = *h.guidance_scale;
    out_[key] = entry;
  }
  template <typename Plain>
  void operator()(const char* key, const char*, const Plain& v) {
    out_[key] = v;
  }

 private:
  json& out_;
  const FileNaming& loras_;
};

class Reader {
 public:
  Reader(const json& object, const FileNaming& loras, api::Generation& g) : f_(object), loras_(loras), g_(g) {}
  const std::set<std::string>& keys() const { return keys_; }

  void operator()(const char* key, const char*, Texts t) {
    keys_.insert(key);
    if (f_.has(key)) t.value = f_.texts(key);
  }
  void operator()(const char* key, const char*, Seed s) {
    keys_.insert(key);
    const int64_t seed = f_.integer(key, -1, -1, int64_t{1} << 53);  // 2^53: what a JSON client's double holds exactly
    s.value = seed < 0 ? random_seed() : static_cast<uint64_t>(seed);
  }
  void operator()(const char* key, const char*, Upload u) {
    keys_.insert(key);
    if (f_.has(key)) u.value = upload_of(f_.text(key, ""), key, api::max_input_pixels(g_));
  }
  void operator()(const char* key, const char*, HeightWidth s) {
    keys_.insert(key);
    if (!f_.has(key)) return;
    const auto pair = int_pair(key);
    s.value = {pair.second, pair.first};
  }
  void operator()(const char* key, const char*, api::TopLeft& c) {
    keys_.insert(key);
    if (!f_.has(key)) return;
    const auto pair = int_pair(key);
    c = {pair.first, pair.second};
  }
  void operator()(const char* key, const char*, std::optional<std::string>& v) {
    keys_.insert(key);
    if (f_.has(key)) v = f_.text(key, "");
  }
  void operator()(const char* key, const char*, std::optional<uint64_t>& v) {
    keys_.insert(key);
    if (f_.has(key)) v = static_cast<uint64_t>(f_.integer(key, 0, 0, int64_t{1} << 53));
  }
  void operator()(const char* key, const char*, std::string& v) {
    keys_.insert(key);
    v = f_.text(key, v);
  }
  void operator()(const char* key, const char*, int& v) {
    keys_.insert(key);
    v = f_.int32(key, v);
  }
  void operator()(const char* key, const char*, double& v) {
    keys_.insert(key);
    v = f_.finite(key, v);
  }
  void operator()(const char* key, const char*, bool& v) {
    keys_.insert(key);
    v = f_.boolean(key, v);
  }
  void operator()(const char* key, const char*, ControlNets units) {
    keys_.insert(key);
    const json& entries = f_.raw(key);
    if (entries.is_null()) return;
    if (!entries.is_array() || entries.size() > 8) f_.bad(key, "must be a list of at most 8 ControlNet units");
    if (!loras_.controlnet_file_of) f_.bad(key, "ControlNets are not available here (sdxl serve --controlnet-dir)");
    units.value.clear();
    for (size_t i = 0; i < entries.size(); ++i) {
      const std::string unit = std::string(key) + "[" + std::to_string(i) + "]";
      if (!entries[i].is_object()) throw RequestError(422, unit, unit + ": must be an object");
      static const std::set<std::string> known{"model", "image", "preprocessor", "threshold_a", "threshold_b", "resolution",
                                               "resize_mode", "controlnet_conditioning_scale", "control_guidance_start",
                                               "control_guidance_end", "control_mode", "a1111_window", "name", "kind"};
      for (auto it = entries[i].begin(); it != entries[i].end(); ++it)
        if (!known.count(it.key())) throw RequestError(422, unit + "." + it.key(), unit + "." + it.key() + ": not a field of a unit");
      const Fields u(entries[i]);
      api::ControlNet c;
      try {
        c.model = loras_.controlnet_file_of(u.text("model", ""), unit + ".model");
        if (!u.has("image")) u.bad("image", "is required");
        c.image = upload_of(u.text("image", ""), unit + ".image", api::max_input_pixels(g_));
        c.preprocessor = u.text("preprocessor", c.preprocessor);
        c.threshold_a = u.finite("threshold_a", c.threshold_a);
        c.threshold_b = u.finite("threshold_b", c.threshold_b);
        c.resolution = u.int32("resolution", c.resolution);
        c.resize_mode = u.text("resize_mode", c.resize_mode);
        c.scale = u.finite("controlnet_conditioning_scale", c.scale);
        c.start = u.finite("control_guidance_start", c.start);
        c.end = u.finite("control_guidance_end", c.end);
        c.control_mode = u.text("control_mode", c.control_mode);
        c.a1111_window = u.boolean("a1111_window", c.a1111_window);
        c.name = u.text("name", "");
        c.kind = u.text("kind", c.kind);
      } catch (const RequestError& e) {
        if (e.field().rfind(unit, 0) == 0) throw;
        throw RequestError(e.status(), unit + "." + e.field(), unit + "." + e.what());
      }
      units.value.push_back(std::move(c));
    }
  }
  void operator()(const char* key, const char*, ImagePrompt ip) {
    keys_.insert(key);
    const json& entry = f_.raw(key);
    if (entry.is_null()) return;
    if (!entry.is_object()) f_.bad(key, "must be an object {model, image_encoder, image, scale}");
    if (!loras_.controlnet_file_of || !loras_.image_encoder_file_of)
      f_.bad(key, "IP-Adapters are not available here (sdxl serve --controlnet-dir and --image-encoder-dir)");
    const std::string prefix = key;
    static const std::set<std::string> known{"model", "image_encoder", "image", "scale", "start", "end", "name"};
    for (auto it = entry.begin(); it != entry.end(); ++it)
      if (!known.count(it.key()))
        throw RequestError(422, prefix + "." + it.key(), prefix + "." + it.key() + ": not a field of an IP-Adapter");
    const Fields u(entry);
    api::IpAdapter a;
    try {
      a.model = loras_.controlnet_file_of(u.text("model", ""), prefix + ".model");
      a.image_encoder = loras_.image_encoder_file_of(u.text("image_encoder", ""), prefix + ".image_encoder");
      if (!u.has("image")) u.bad("image", "is required");
      a.image = upload_of(u.text("image", ""), prefix + ".image", api::max_input_pixels(g_));
      a.scale = u.finite("scale", a.scale);
      a.start = u.finite("start", a.start);
      a.end = u.finite("end", a.end);
      a.name = u.text("name", "");
    } catch (const RequestError& e) {
      if (e.field().rfind(prefix, 0) == 0) throw;
      throw RequestError(e.status(), prefix + "." + e.field(), prefix + "." + e.what());
    }
    ip.value = std::move(a);
  }
  void operator()(const char* key, const char*, HiresFix hf) {
    keys_.insert(key);
    const json& entry = f_.raw(key);
    if (entry.is_null()) return;
    if (!entry.is_object()) f_.bad(key, "must be an object {scale or resize, upscaler, steps, denoising_strength, ...}");
    const std::string prefix = key;
    static const std::set<std::string> known{"scale",   "resize", "upscaler", "upscaler_model", "steps", "denoising_strength",
                                             "sampler", "scheduler", "prompt", "negative_prompt", "guidance_scale"};
    for (auto it = entry.begin(); it != entry.end(); ++it)
      if (!known.count(it.key()))
        throw RequestError(422, prefix + "." + it.key(), prefix + "." + it.key() + ": not a field of the hires fix");
    const Fields u(entry);
    api::Hires h;
    try {
      h.scale = u.finite("scale", h.scale);
      if (u.has("resize")) {
        const json& r = u.raw("resize");
        if (!r.is_array() || r.size() != 2 || !r[0].is_number_integer() || !r[1].is_number_integer() || r[0].get<int64_t>() < 0 ||
            r[1].get<int64_t>() < 0 || r[0].get<int64_t>() > 65536 || r[1].get<int64_t>() > 65536)
          u.bad("resize", "must be [width, height], non-negative integers (0: from the other side)");
        h.resize_width = static_cast<int>(r[0].get<int64_t>());
        h.resize_height = static_cast<int>(r[1].get<int64_t>());
      }
      h.upscaler = u.text("upscaler", h.upscaler);
      const std::string model = u.text("upscaler_model", is_builtin_upscaler(h.upscaler) ? "" : h.upscaler);
      if (!model.empty()) {
        if (!loras_.upscaler_file_of) u.bad("upscaler", "no upscaler models are available here (sdxl serve --upscaler-dir)");
        h.upscaler_model = loras_.upscaler_file_of(model, prefix + (u.has("upscaler_model") ? ".upscaler_model" : ".upscaler"));
      }
      h.steps = static_cast<int>(u.integer("steps", 0, 0, 1000));
      h.denoising_strength = u.finite("denoising_strength", h.denoising_strength);
      h.sampler = u.text("sampler", "");
      h.scheduler = u.text("scheduler", "");
      if (u.has("prompt")) h.prompt = u.text("prompt", "");
      if (u.has("negative_prompt")) h.negative_prompt = u.text("negative_prompt", "");
      if (u.has("guidance_scale")) h.guidance_scale = u.finite("guidance_scale", 0.0);
    } catch (const RequestError& e) {
      if (e.field().rfind(prefix, 0) == 0) throw;
      throw RequestError(e.status(), prefix + "." + e.field(), prefix + "." + e.what());
    }
    hf.value = std::move(h);
  }
  void operator()(const char* key, const char*, std::vector<api::Lora>& list) {
    keys_.insert(key);
    const json& entries = f_.raw(key);
    if (entries.is_null()) return;
    if (!entries.is_array()) f_.bad(key, "must be a list of {name, weight}");
    list.clear();
    for (const auto& entry : entries) {
      if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) f_.bad(key, "each entry needs a name");
      const Fields lf(entry);
      list.push_back({loras_.file_of(lf.text("name", ""), key), lf.finite("weight", 1.0)});
    }
  }

 private:
  std::pair<int, int> int_pair(const char* key) const {
    const json& v = f_.raw(key);
    if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer() ||
        v[0].get<int64_t>() < 0 || v[1].get<int64_t>() < 0 || v[0].get<int64_t>() > INT_MAX || v[1].get<int64_t>() > INT_MAX)
      f_.bad(key, "must be a list of two non-negative integers");
    return {static_cast<int>(v[0].get<int64_t>()), static_cast<int>(v[1].get<int64_t>())};
  }

  const Fields f_;
  const FileNaming& loras_;
  api::Generation& g_;
  std::set<std::string> keys_;
};

// Finds the JSON key of a library parameter.
class FieldOf {
 public:
  explicit FieldOf(const std::string& parameter) : parameter_(parameter) {}
  template <typename Value>
  void operator()(const char* key, const char* parameter, const Value&) {
    if (found_.empty() && parameter_ == parameter) found_ = key;
  }
  const std::string& found() const { return found_; }

 private:
  const std::string& parameter_;
  std::string found_;
};

}  // namespace

json generation_to_json(const api::Generation& g, const FileNaming& loras) {
  json out = json::object();
  Writer writer(out, loras);
  visit_fields(const_cast<api::Generation&>(g), writer);  // the writer only reads
  return out;
}

api::Generation generation_from_json(const json& object, const FileNaming& loras, api::Generation defaults,
                                     const std::vector<std::string>& also_allowed) {
  api::Generation g = std::move(defaults);
  Reader reader(object, loras, g);
  visit_fields(g, reader);
  for (const auto& [key, value] : object.items()) {
    if (reader.keys().count(key) || std::find(also_allowed.begin(), also_allowed.end(), key) != also_allowed.end()) continue;
    throw RequestError(422, key, key + ": not a field of this API (see docs/SERVER.md for the jobs API's fields)");
  }
  return g;
}

std::string generation_json_field(const std::string& parameter) {
  if (parameter.rfind("ip_adapter.", 0) == 0) return parameter;  // its members keep their names here
  static const std::map<std::string, std::string> hires{
      {"enable_hr", "hires"},          {"hr_scale", "hires.scale"},           {"hr_resize_x", "hires.resize"},
      {"hr_resize_y", "hires.resize"}, {"hr_upscaler", "hires.upscaler"},     {"hr_second_pass_steps", "hires.steps"},
      {"hr_cfg", "hires.guidance_scale"}, {"hr_sampler_name", "hires.sampler"}};
  if (const auto it = hires.find(parameter); it != hires.end()) return it->second;
  if (parameter == "denoising_strength") return "hires.denoising_strength";
  if (parameter.rfind("controlnets[", 0) == 0) {  // a unit's member, in this form's names
    static const std::map<std::string, std::string> names{{"scale", "controlnet_conditioning_scale"},
                                                          {"start", "control_guidance_start"},
                                                          {"end", "control_guidance_end"}};
    const size_t dot = parameter.find("].");
    if (dot == std::string::npos) return parameter;
    const auto it = names.find(parameter.substr(dot + 2));
    return it == names.end() ? parameter : parameter.substr(0, dot + 2) + it->second;
  }
  api::Generation g;
  FieldOf field_of(parameter);
  visit_fields(g, field_of);
  return field_of.found().empty() ? parameter : field_of.found();
}

ImageOutput image_output_of(const Fields& f, const char* format_field, const char* quality_field, const char* lossless_field,
                            int status) {
  ImageOutput out;
  std::string format = f.text(format_field, "png");
  std::transform(format.begin(), format.end(), format.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (format == "png" || format == "webp") out.format = format;
  else if (format == "jpeg" || format == "jpg") out.format = "jpeg";
  else f.bad(format_field, std::string(format_field) + ": '" + format + "' is not png, jpeg (jpg) or webp", status);
  if (*quality_field && f.has(quality_field)) out.quality = static_cast<int>(f.integer(quality_field, 0, 1, 100));
  if (*lossless_field) out.lossless = f.boolean(lossless_field, false);
  return out;
}

}  // namespace sdxl::server
